"""Data structures shared by datasets, models and metrics."""
from .mm_data_sample import MMDataSample
from .request_text import caption_of

__all__ = ['MMDataSample', 'caption_of']
