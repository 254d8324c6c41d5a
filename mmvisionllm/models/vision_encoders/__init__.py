"""Vision encoders of VisionLLMv2 (HF CLIP wrapper); dynamic-resolution tiling is a transform."""
from .clip_vision_encoder import CLIPFeatures, CLIPVisionEncoder

__all__ = ['CLIPVisionEncoder', 'CLIPFeatures']
