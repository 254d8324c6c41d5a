"""Official-compatible VisionLLM v2 Grounding DINO decoder (loads the released ``gdino.*``
weights)."""
from .official_gdino_convert import (convert_official_gdino, official_to_ours_key,
                                     ours_to_official_key)
from .official_gdino_decoder import OfficialGroundingDinoDecoder
from .official_gdino_transformer import OfficialGroundingDinoTransformer

__all__ = [
    'OfficialGroundingDinoDecoder', 'OfficialGroundingDinoTransformer', 'convert_official_gdino',
    'official_to_ours_key', 'ours_to_official_key'
]
