"""evaluation/metrics"""
__all__ = []
