"""models/vision_encoders"""
__all__ = []
