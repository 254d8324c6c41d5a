"""models/mllm"""
__all__ = []
