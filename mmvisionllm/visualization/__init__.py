"""visualization"""
__all__ = []
