"""Visualisation: the VisionLLM v2 visualizer (mmdet + mmpose drawing) and its test-time hook."""
from .vision_llm_visualizer import VisionLLMVisualizer, to_rgb_array
from .visualization_hook import VisionLLMVisualizationHook

__all__ = ['VisionLLMVisualizer', 'VisionLLMVisualizationHook', 'to_rgb_array']
