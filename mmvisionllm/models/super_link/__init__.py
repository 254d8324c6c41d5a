"""models/super_link"""
__all__ = []
