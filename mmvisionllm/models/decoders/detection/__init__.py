"""Detection / segmentation / grounding decoder plugin (Grounding DINO fed by link embeddings) and
the DINO specialist baselines that share its mask branch.
"""
from .dino_mask import DINOMask
from .dino_mask_head import DINOMaskHead
from .gdino_checkpoint import GDINO_TEXT_PREFIXES, GDINOConversion, convert_gdino_state_dict
from .link_grounding_dino import LinkGroundingDINO
from .link_grounding_dino_decoder import LinkGroundingDINODecoder
from .link_grounding_dino_head import LinkGroundingDINOHead
from .mask_assigner import MASK_MATCH_KEY, MaskAwareHungarianAssigner
from .mask_detector_mixin import MaskDetectorMixin
from .mask_head import DETRMaskHead
from .mask_head_mixin import MaskHeadMixin
from .official import OfficialGroundingDinoDecoder

__all__ = [
    'LinkGroundingDINODecoder', 'LinkGroundingDINO', 'LinkGroundingDINOHead', 'DETRMaskHead',
    'MaskAwareHungarianAssigner', 'MASK_MATCH_KEY', 'MaskHeadMixin', 'MaskDetectorMixin',
    'DINOMask', 'DINOMaskHead', 'convert_gdino_state_dict', 'GDINOConversion',
    'GDINO_TEXT_PREFIXES', 'OfficialGroundingDinoDecoder'
]
