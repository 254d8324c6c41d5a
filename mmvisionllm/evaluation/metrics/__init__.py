"""Metrics: VQA accuracy, captions, the task filter of mmdet/mmpose metrics, generation scores."""
from .answer_normalization import normalize_vqa_answer
from .caption_metric import CaptionMetric, tokenize_caption
from .task_filtered_metric import TaskFilteredMetric
from .vqa_metric import VQAAccuracy, vqa_accuracy

__all__ = [
    'normalize_vqa_answer', 'CaptionMetric', 'tokenize_caption', 'TaskFilteredMetric',
    'VQAAccuracy', 'vqa_accuracy'
]
from .edit_metric import ShapesEditMetric  # noqa: E402
from .gen_caption_parser import ObjectSpec, ShapesVocabulary, parse_caption  # noqa: E402
from .gen_detector import MMDetShapesDetector, build_gen_detector  # noqa: E402
from .gen_eval_metric import ShapesGenEvalMetric  # noqa: E402
from .gen_pixel_fid import PixelFrechetDistance, frechet_distance, pixel_features  # noqa: E402

__all__ += [
    'ShapesEditMetric', 'ObjectSpec', 'ShapesVocabulary', 'parse_caption', 'MMDetShapesDetector',
    'build_gen_detector', 'ShapesGenEvalMetric', 'PixelFrechetDistance', 'frechet_distance',
    'pixel_features'
]
