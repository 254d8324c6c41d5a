"""Task decoders fed by link embeddings (the plugins of the super link)."""
from .base_link_decoder import BaseLinkDecoder
from .detection import *  # noqa: F401,F403
from .generation import *  # noqa: F401,F403
from .pose import *  # noqa: F401,F403

__all__ = ['BaseLinkDecoder']
