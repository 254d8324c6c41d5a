"""models/region_encoder"""
__all__ = []
