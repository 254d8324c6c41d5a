"""Vision encoders of VisionLLMv2 (HF CLIP wrapper, its convolutional stem); dynamic-resolution
tiling is a transform."""
from .clip_vision_encoder import CLIPFeatures, CLIPVisionEncoder
from .conv_stem import ConvStem

__all__ = ['CLIPVisionEncoder', 'CLIPFeatures', 'ConvStem']
