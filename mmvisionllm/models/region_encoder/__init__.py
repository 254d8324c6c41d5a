"""Region encoder of VisionLLMv2 (mask prompts -> LLM tokens)."""
from .mask_point_region_encoder import MaskPointRegionEncoder

__all__ = ['MaskPointRegionEncoder']
