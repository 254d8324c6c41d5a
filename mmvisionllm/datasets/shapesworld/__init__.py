"""ShapesWorld: the embedded procedural benchmark."""
__all__ = []
