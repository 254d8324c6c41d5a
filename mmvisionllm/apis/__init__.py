"""High-level APIs: chat with a VisionLLMv2 (free-running generation with live decoder routing)."""
from .chat import ChatReply, LinkOutput, chat, prepare_image
from .inferencer import VisionLLMInferencer
from .shapes_detector import VisionLLMShapesDetector

__all__ = [
    'chat', 'ChatReply', 'LinkOutput', 'prepare_image', 'VisionLLMInferencer',
    'VisionLLMShapesDetector'
]
