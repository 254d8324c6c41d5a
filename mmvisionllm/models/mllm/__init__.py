"""The VisionLLMv2 core: model, data preprocessor, projector and the live-routing generator."""
from .component_freezing import freeze_components
from .data_preprocessor import (CLIP_MEAN, CLIP_STD, CLIPTileDataPreprocessor,
                                VisionLLMv2DataPreprocessor)
from .link_generation import EmittedLink, GeneratedTurn, LinkAwareGreedyGenerator
from .mlp_projector import MLPProjector
from .visionllm_v2 import PAPER_ROUTING_TOKENS, VisionLLMv2

__all__ = [
    'VisionLLMv2', 'VisionLLMv2DataPreprocessor', 'CLIPTileDataPreprocessor', 'MLPProjector',
    'LinkAwareGreedyGenerator', 'EmittedLink', 'GeneratedTurn', 'freeze_components', 'CLIP_MEAN',
    'CLIP_STD', 'PAPER_ROUTING_TOKENS'
]
