"""engine"""
__all__ = []
