"""detection decoder plugin(s)."""
__all__ = []
