"""mmvisionllm: VisionLLM v2 (arXiv 2406.08394) as a modular plugin framework on OpenMMLab."""
from .version import __version__, version_info

__all__ = ['__version__', 'version_info']
