"""The ``[EDIT]`` decoder: InstructPix2Pix-style image editing from link embeddings.

Reused: the same diffusers parts as the ``[GEN]`` decoder (``UNet2DConditionModel``, optional frozen
``AutoencoderKL``, ``DDPMScheduler`` / ``DDIMScheduler`` / ``DPMSolverMultistepScheduler``), built
by :class:`BaseDiffusionDecoder`. InstructPix2Pix's recipe is followed, not its code: the source
image's latent (posterior mode) is concatenated to the noisy latent (8 UNet input channels in SD's
latent space, 6 in pixel space; a pretrained 4-channel UNet is widened with zero weights for the new
channels), text and image conditions are dropped in training, and sampling uses dual guidance.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmvisionllm.registry import MODELS
from .base_diffusion_decoder import BaseDiffusionDecoder

__all__ = ['InstructEditDecoder']


@MODELS.register_module()
class InstructEditDecoder(BaseDiffusionDecoder):
    """Edit the source image (decoder view ``images``) as the ``[EDIT]`` link embeddings say.

    Training target: ``data_sample.gt_image``. Condition dropout (one uniform draw ``u`` per sample,
    ``p = cond_drop_prob``): ``u < p`` drops the text (null context), ``p ≤ u < 2p`` drops both,
    ``2p ≤ u < 3p`` drops the image (zero source latent) — InstructPix2Pix's 5 % / 5 % / 5 % at
    ``p = 0.05``. Sampling combines three predictions::

        ε = ε(∅, ∅) + s_I·(ε(∅, I) − ε(∅, ∅)) + s_T·(ε(c, I) − ε(∅, I))

    with ``s_T = test_cfg['guidance_scale']`` and ``s_I = test_cfg['image_guidance_scale']``.

    With ``source_residual`` (only for ``prediction_type='sample'``) the UNet predicts the change:
    its output is added to the source latent it was given, so ``x0 = source + UNet(...)`` (the
    source is zero where image conditioning is dropped, which leaves the plain prediction), and the
    UNet's output convolution starts at zero (as ControlNet's zero convolutions), so the untrained
    decoder returns the source — the do-nothing edit — instead of noise; small pixel-space
    builds learn the instructed change far sooner this way, since most pixels of an edit are
    unchanged. Image guidance ``s_I > 1`` extrapolates away from the image-free prediction as usual,
    so residual builds are sampled with ``s_I`` near 1. The output of a residual build is the
    source image at its own resolution plus the predicted change (the decoded sample minus the
    decoded source latent, resized to the source): what the edit leaves alone is not blurred by
    the round trip through the decoder's ``image_size`` (or the VAE).

    Args:
        routing_tokens (Sequence[str]): Defaults to ``('[EDIT]',)``.
        num_queries (int): N link embeddings (64 in the paper). Defaults to 64.
        in_channels (int): LLM hidden size (filled in by VisionLLMv2 when omitted). Defaults to
        4096.
        cond_drop_prob (float): ``p`` above. Defaults to 0.05.
        caption_key (str): Metainfo key of the text of the auxiliary loss. Defaults to
            ``'edit_instruction'`` (what ``ImageEditDataset`` stores).
        source_residual (bool): Predict the change to the source (see above). Defaults to False
            (InstructPix2Pix).
        scale_source_latent (bool): Multiply the source latent by the VAE scaling factor.
            Defaults to True (this project's builds); InstructPix2Pix itself (its training, the
            diffusers pipeline and the official VisionLLM v2 wrapper) conditions on the unscaled
            posterior mode, which a released IP2P UNet expects: set False for those weights.
        **kwargs: See :class:`BaseDiffusionDecoder`.
    """

    uses_source_image = True
    default_test_cfg: Dict = dict(
        num_inference_steps=50, guidance_scale=7.5, image_guidance_scale=1.5, seed=0)

    def __init__(self,
                 routing_tokens: Sequence[str] = ('[EDIT]', ),
                 num_queries: int = 64,
                 in_channels: int = 4096,
                 cond_drop_prob: float = 0.05,
                 caption_key: str = 'edit_instruction',
                 source_residual: bool = False,
                 scale_source_latent: bool = True,
                 **kwargs) -> None:
        super().__init__(
            routing_tokens,
            num_queries,
            in_channels,
            cond_drop_prob=cond_drop_prob,
            caption_key=caption_key,
            **kwargs)
        prediction_type = self.noise_scheduler.config.prediction_type
        if source_residual and prediction_type != 'sample':
            raise ValueError('source_residual=True needs noise_scheduler.prediction_type="sample" '
                             f'(the UNet must predict the image), got {prediction_type!r}')
        if source_residual and not scale_source_latent:
            raise ValueError('source_residual=True adds the UNet output to the source latent, '
                             'which must then be in the scaled diffusion space '
                             '(scale_source_latent=True)')
        self.source_residual = source_residual
        self.scale_source_latent = bool(scale_source_latent)
        if source_residual:
            nn.init.zeros_(self.unet.conv_out.weight)
            nn.init.zeros_(self.unet.conv_out.bias)

    def _unet(self,
              latents: Tensor,
              timesteps: Tensor,
              context: Tensor,
              source: Optional[Tensor] = None) -> Tensor:
        """UNet prediction [B, c, h, w], plus the given source latent with ``source_residual``."""
        out = super()._unet(latents, timesteps, context, source)
        return out + source if self.source_residual else out

    def _output_images(self, pixels: Tensor, source: Optional[Tensor],
                       source_images: Optional[List[Tensor]]) -> List[Tensor]:
        """Edited images [3, H_i, W_i] uint8 at the sources' sizes; with ``source_residual`` the
        predicted change is added to the full-resolution source (see the class docstring)."""
        if not self.source_residual:
            return super()._output_images(pixels, source, source_images)
        changes = pixels - self.codec.decode(source)
        outputs = []
        for change, image in zip(changes, source_images):
            original = image.to(device=change.device, dtype=torch.float32) / 127.5 - 1.0
            change = F.interpolate(
                change[None], size=tuple(image.shape[-2:]), mode='bilinear', align_corners=False)
            outputs += self.codec.to_uint8(original[None] + change)
        return outputs

    def _drop_conditions(self, context: Tensor,
                         source: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        """Drop text, both or image conditions (see the class docstring)."""
        p = self.cond_drop_prob
        u = torch.rand(context.size(0), device=context.device)
        drop_text = u < 2 * p
        drop_image = (u >= p) & (u < 3 * p)
        context = torch.where(drop_text[:, None, None], self._null_like(context), context)
        source = torch.where(drop_image[:, None, None, None], torch.zeros_like(source), source)
        return context, source

    def _guided_output(self, latents: Tensor, t: Tensor, context: Tensor, source: Optional[Tensor],
                       cfg: dict) -> Tensor:
        """Dual (text, image) classifier-free guidance at one sampling step."""
        s_text = float(cfg['guidance_scale'])
        s_image = float(cfg['image_guidance_scale'])
        if s_text == 1.0 and s_image == 1.0:
            return self._unet(latents, t, context, source)
        null = self._null_like(context)
        out = self._unet(
            torch.cat([latents] * 3), t, torch.cat([context, null, null]),
            torch.cat([source, source, torch.zeros_like(source)]))
        full, image_only, none = out.chunk(3)
        return none + s_image * (image_only - none) + s_text * (full - image_only)
