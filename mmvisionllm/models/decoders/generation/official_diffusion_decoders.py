"""``[GEN]`` / ``[EDIT]`` decoders with the settings of the released VisionLLM v2 wrappers.

The official ``sd.`` (Stable Diffusion 1.5) and ``ip2p.`` (InstructPix2Pix) wrappers differ from
this project's default decoders in settings, not in structure, so these classes only change
defaults of :class:`TextToImageDecoder` / :class:`InstructEditDecoder` (read from the official
code, written anew):

* link mapper: :class:`OfficialLinkMapper` (``nn.Transformer``, 1 + 1 layers, ReLU, 8 heads);
* null condition for classifier-free guidance: the frozen text encoder's embedding of ''
  (``null_context='text_encoder'``), not a learned tensor;
* ``[GEN]``: the SD UNet is frozen (only the mapper trains) and the prompt is dropped with
  probability 0.2 (the official code drops it when ``u < 2 · cfg_drop_rate``, cfg_drop_rate 0.1);
* ``[EDIT]``: the UNet trains, text / both / image are dropped at 5 % each (cfg_drop_rate 0.05),
  and the source latent is the unscaled VAE posterior mode (``scale_source_latent=False``).

The diffusers / transformers components (``unet``, ``vae``, ``text_encoder``, ``tokenizer``,
``noise_scheduler``) are configured as for the base classes; the official shapes are in
``configs/_base_/models/decoders/{gen_sd15,edit_ip2p}_official.py``. Weights:
:meth:`BaseDiffusionDecoder.convert_official_state_dict`.
"""
from typing import Sequence

from mmvisionllm.registry import MODELS
from .instruct_edit_decoder import InstructEditDecoder
from .text_to_image_decoder import TextToImageDecoder

__all__ = ['OfficialTextToImageDecoder', 'OfficialInstructEditDecoder']


def _official_defaults(kwargs: dict, **defaults) -> dict:
    for key, value in dict(
            link_mapper=dict(type='OfficialLinkMapper'),
            null_context='text_encoder',
            text_align_weight=0.1,
            **defaults).items():
        kwargs.setdefault(key, value)
    return kwargs


@MODELS.register_module()
class OfficialTextToImageDecoder(TextToImageDecoder):
    """:class:`TextToImageDecoder` with the official ``sd.`` wrapper's defaults (see module).

    Args:
        routing_tokens (Sequence[str]): Defaults to ``('[GEN]',)``.
        num_queries (int): Link embeddings per ``[GEN]``. Defaults to 64.
        in_channels (int): LLM width. Defaults to 4096.
        **kwargs: As :class:`BaseDiffusionDecoder`; ``link_mapper``, ``null_context``,
            ``freeze_unet`` (True), ``cond_drop_prob`` (0.2) and ``text_align_weight`` (0.1)
            default to the official values.
    """

    def __init__(self,
                 routing_tokens: Sequence[str] = ('[GEN]', ),
                 num_queries: int = 64,
                 in_channels: int = 4096,
                 **kwargs) -> None:
        super().__init__(routing_tokens, num_queries, in_channels,
                         **_official_defaults(kwargs, freeze_unet=True, cond_drop_prob=0.2))


@MODELS.register_module()
class OfficialInstructEditDecoder(InstructEditDecoder):
    """:class:`InstructEditDecoder` with the official ``ip2p.`` wrapper's defaults (see module).

    Args:
        routing_tokens (Sequence[str]): Defaults to ``('[EDIT]',)``.
        num_queries (int): Link embeddings per ``[EDIT]``. Defaults to 64.
        in_channels (int): LLM width. Defaults to 4096.
        **kwargs: As :class:`InstructEditDecoder`; ``link_mapper``, ``null_context``,
            ``cond_drop_prob`` (0.05), ``scale_source_latent`` (False) and
            ``text_align_weight`` (0.1) default to the official values.
    """

    def __init__(self,
                 routing_tokens: Sequence[str] = ('[EDIT]', ),
                 num_queries: int = 64,
                 in_channels: int = 4096,
                 **kwargs) -> None:
        super().__init__(
            routing_tokens, num_queries, in_channels,
            **_official_defaults(kwargs, cond_drop_prob=0.05, scale_source_latent=False))
