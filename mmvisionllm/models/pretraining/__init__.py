"""Pre-training stages that prepare VisionLLMv2 parts the tiny build cannot download."""
from .vision_tag_pretrainer import VisionTagPretrainer

__all__ = ['VisionTagPretrainer']
