"""A box decoder for VisionLLM v2 built on mmdet's CenterNetHead (a head the core does not use).

Imported through ``custom_imports`` (``projects.link_centernet.link_centernet``).
"""
from .link_centernet_decoder import LinkCenterNetDecoder

__all__ = ['LinkCenterNetDecoder']
