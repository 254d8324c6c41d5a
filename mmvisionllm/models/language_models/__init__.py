"""models/language_models"""
__all__ = []
