"""Official-compatible VisionLLM v2 UniPose decoder (loads the released ``unipose.*`` weights)."""
from .official_unipose_convert import (convert_official_unipose, official_to_ours_key,
                                       ours_to_official)
from .official_unipose_decoder import OfficialUniPoseDecoder
from .official_unipose_transformer import OfficialUniPoseTransformer

__all__ = [
    'OfficialUniPoseDecoder', 'OfficialUniPoseTransformer', 'convert_official_unipose',
    'official_to_ours_key', 'ours_to_official'
]
