"""Region encoder of VisionLLMv2 (mask prompts -> LLM tokens)."""
from .mask_point_region_encoder import MaskPointRegionEncoder
from .official_region_encoder import OfficialRegionEncoder

__all__ = ['MaskPointRegionEncoder', 'OfficialRegionEncoder']
