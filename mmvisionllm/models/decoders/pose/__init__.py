"""pose decoder plugin(s)."""
__all__ = []
