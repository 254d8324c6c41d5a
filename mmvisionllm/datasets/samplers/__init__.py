"""Batch samplers."""
from .task_grouped_batch_sampler import TaskGroupedBatchSampler, sample_groups

__all__ = ['TaskGroupedBatchSampler', 'sample_groups']
