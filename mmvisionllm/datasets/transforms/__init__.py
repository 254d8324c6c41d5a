"""Pipeline transforms: loading, CLIP-view tiling, keypoint resize, region prompts, packing, and
the grounding captions of detection samples (mmdet Grounding DINO training)."""
from .dynamic_tiling import DynamicTiling, choose_tile_grid
from .formatting import DEFAULT_META_KEYS, PackMultimodalInputs
from .grounding_captions import DistinctRandomSamplingNegPos
from .keypoint_resize import ResizeWithKeypoints
from .loading import LoadMultimodalAnnotations, LoadOptionalImageFromFile, LoadTargetImage
from .region_prompts import LoadRegionPrompts, region_prompt_to_mask

__all__ = [
    'DynamicTiling', 'choose_tile_grid', 'DEFAULT_META_KEYS', 'PackMultimodalInputs',
    'ResizeWithKeypoints', 'LoadMultimodalAnnotations', 'LoadOptionalImageFromFile',
    'LoadTargetImage', 'LoadRegionPrompts', 'region_prompt_to_mask', 'DistinctRandomSamplingNegPos'
]
