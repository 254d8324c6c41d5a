"""The reverse-diffusion loop shared by the text-to-image and editing decoders.

Reused: the update rule is the diffusers scheduler's own (``set_timesteps``, ``scale_model_input``,
``step``), so DDIM, DPM-Solver++ or any other diffusers scheduler can be configured; this file only
seeds the start noise per sample and runs the loop around a guidance callback that the decoders
supply (classifier-free guidance for text, InstructPix2Pix's dual text/image guidance for editing).

Why not ``StableDiffusionPipeline`` / ``StableDiffusionInstructPix2PixPipeline``: both need a VAE
(the tiny build samples in pixel space), build their conditioning from a tokenizer + text encoder
or ``prompt_embeds`` in a guidance layout of their own (the editing pipeline also builds its own
null image latent), and cannot
append the coordinate channels the tiny UNets take. Their loop is the scheduler calls above; the
guidance arithmetic is each decoder's ``model_output_fn``, so the same code serves the tiny and the
SD-1.5 builds.
"""
import zlib
from typing import Callable, Sequence, Tuple

import torch
from diffusers.utils.torch_utils import randn_tensor
from torch import Tensor

__all__ = ['sample_seed', 'seeded_noise', 'denoise_loop']


def sample_seed(base_seed: int, data_sample) -> int:
    """The sampling seed of one sample: ``base_seed`` plus the sample's ``img_id``.

    An integer id is added as is, any other id through its CRC-32 (stable across processes,
    unlike ``hash``). A sample without ``img_id`` (e.g. a free-running chat request) gets
    ``base_seed`` itself.

    Args:
        base_seed (int): The configured seed (``test_cfg['seed']``).
        data_sample: An ``MMDataSample`` (or anything with ``metainfo``).

    Returns:
        int: A seed in [0, 2**63).
    """
    img_id = getattr(data_sample, 'metainfo', {}).get('img_id')
    if img_id is None:
        return base_seed
    if isinstance(img_id, int) or (isinstance(img_id, str) and img_id.isdigit()):
        offset = int(img_id)
    else:
        offset = zlib.crc32(str(img_id).encode('utf-8'))
    return (base_seed + offset) % 2**63


def seeded_noise(shape: Tuple[int, ...], seeds: Sequence[int], device: torch.device) -> Tensor:
    """Draw the start noise of each sample from its own seeded generator.

    One generator per sample makes a sample's image independent of the rest of its batch.

    Args:
        shape (tuple): (B, c, h, w).
        seeds (Sequence[int]): B seeds.
        device (torch.device): Device of the returned tensor.

    Returns:
        Tensor: [B, c, h, w] standard normal noise (drawn on the CPU, so seeds give the same noise
        on every device).
    """
    generators = [torch.Generator('cpu').manual_seed(int(s)) for s in seeds]
    return randn_tensor(tuple(shape), generator=generators, device=torch.device('cpu')).to(device)


@torch.no_grad()
def denoise_loop(scheduler, model_output_fn: Callable[[Tensor, Tensor], Tensor], latents: Tensor,
                 num_inference_steps: int) -> Tensor:
    """Run the sampler from pure noise to a clean latent.

    Args:
        scheduler: A fresh diffusers scheduler (multistep solvers keep state between steps).
        model_output_fn (Callable): ``(scaled_latents [B, c, h, w], t) -> [B, c, h, w]``, the guided
            UNet prediction (noise, v or sample, as the scheduler's ``prediction_type`` says).
        latents (Tensor): [B, c, h, w] standard normal start noise.
        num_inference_steps (int): Number of sampling steps.

    Returns:
        Tensor: [B, c, h, w] denoised latents.
    """
    scheduler.set_timesteps(num_inference_steps, device=latents.device)
    latents = latents * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        model_input = scheduler.scale_model_input(latents, t)
        model_output = model_output_fn(model_input, t)
        latents = scheduler.step(model_output, t, latents).prev_sample
    return latents
