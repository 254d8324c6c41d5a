"""The ``[GEN]`` decoder: text-to-image generation from link embeddings (VisionLLM v2's SD path).

Reused: the diffusion parts are diffusers' (``UNet2DConditionModel``, optional ``AutoencoderKL``,
``DDPMScheduler`` for training and ``DDIMScheduler`` / ``DPMSolverMultistepScheduler`` for sampling)
and the optional caption encoder is transformers' ``CLIPTextModel``, all built by
:class:`BaseDiffusionDecoder`; this class only fixes the routing token and the guidance defaults.
"""
from typing import Dict, Sequence

from mmvisionllm.registry import MODELS
from .base_diffusion_decoder import BaseDiffusionDecoder

__all__ = ['TextToImageDecoder']


@MODELS.register_module()
class TextToImageDecoder(BaseDiffusionDecoder):
    """Generate ``gt_image``-like images from the N link embeddings of ``[GEN]``.

    Training: noise-prediction MSE on the target image (+ ``text_align_weight`` × MSE of the mapped
    context to the caption's CLIP embedding when a text encoder is configured); with probability
    ``cond_drop_prob`` a sample's context is replaced by the learned null context, so that sampling
    can use classifier-free guidance ``ε = ε(∅) + s·(ε(c) − ε(∅))`` with ``s =
    test_cfg['guidance_scale']``.

    Args:
        routing_tokens (Sequence[str]): Defaults to ``('[GEN]',)``.
        num_queries (int): N link embeddings (64 in the paper). Defaults to 64.
        in_channels (int): LLM hidden size (filled in by VisionLLMv2 when omitted). Defaults to
        4096.
        **kwargs: See :class:`BaseDiffusionDecoder` (``unet``, ``noise_scheduler``, ``vae``...).
    """

    default_test_cfg: Dict = dict(num_inference_steps=50, guidance_scale=7.5, seed=0)

    def __init__(self,
                 routing_tokens: Sequence[str] = ('[GEN]', ),
                 num_queries: int = 64,
                 in_channels: int = 4096,
                 **kwargs) -> None:
        super().__init__(routing_tokens, num_queries, in_channels, **kwargs)
