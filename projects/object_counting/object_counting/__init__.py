"""Object counting for VisionLLM v2: a task the core does not have, added as a plugin.

Imported through ``custom_imports`` (``projects.object_counting.object_counting``): declares the
``count`` task with its ``[CNT]`` routing token, and registers its dataset, decoder and metric.
"""
from .count_dataset import CocoCountConversationDataset
from .count_decoder import CountLinkDecoder
from .count_metric import CountMetric
from .task import COUNT_TASK

__all__ = ['COUNT_TASK', 'CocoCountConversationDataset', 'CountLinkDecoder', 'CountMetric']
