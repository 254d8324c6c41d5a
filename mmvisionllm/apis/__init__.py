"""apis"""
__all__ = []
