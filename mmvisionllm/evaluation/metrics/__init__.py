"""Metrics: VQA accuracy, captions, the task filter around mmdet/mmpose metrics, generation scores."""
from .answer_normalization import normalize_vqa_answer
from .caption_metric import CaptionMetric, tokenize_caption
from .task_filtered_metric import TaskFilteredMetric
from .vqa_metric import VQAAccuracy, vqa_accuracy

__all__ = [
    'normalize_vqa_answer', 'CaptionMetric', 'tokenize_caption', 'TaskFilteredMetric', 'VQAAccuracy',
    'vqa_accuracy'
]
