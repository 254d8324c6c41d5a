"""Image decoder plugins of the super link: ``[GEN]`` text-to-image and ``[EDIT]`` editing.

Both wrap diffusers (UNet2DConditionModel, AutoencoderKL, DDPM/DDIM/DPM-Solver schedulers) behind
the VisionLLM v2 link mapper; see :class:`BaseDiffusionDecoder`.
"""
from .base_diffusion_decoder import BaseDiffusionDecoder
from .diffusion_builders import build_hf_component, build_sample_scheduler, expand_unet_in_channels
from .diffusion_sampler import denoise_loop, sample_seed, seeded_noise
from .image_latent_codec import ImageLatentCodec
from .instruct_edit_decoder import InstructEditDecoder
from .link_mapper import LinkMapper
from .official_diffusion_decoders import OfficialInstructEditDecoder, OfficialTextToImageDecoder
from .official_link_mapper import OfficialLinkMapper
from .text_to_image_decoder import TextToImageDecoder

__all__ = [
    'BaseDiffusionDecoder', 'TextToImageDecoder', 'InstructEditDecoder', 'LinkMapper',
    'ImageLatentCodec', 'build_hf_component', 'build_sample_scheduler', 'expand_unet_in_channels',
    'denoise_loop', 'sample_seed', 'seeded_noise', 'OfficialLinkMapper',
    'OfficialTextToImageDecoder', 'OfficialInstructEditDecoder'
]
