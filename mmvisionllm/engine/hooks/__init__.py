"""Hooks of mmvisionllm."""
from .adapter_checkpoint_hook import AdapterCheckpointHook

__all__ = ['AdapterCheckpointHook']
