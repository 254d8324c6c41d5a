"""Data structures shared by datasets, models and metrics."""
from .mm_data_sample import MMDataSample

__all__ = ['MMDataSample']
