"""generation decoder plugin(s)."""
__all__ = []
