"""VQAv2 accuracy: ``min(1, #humans who gave the answer / 3)``, averaged over the 10 leave-one-out
subsets of the human answers, after VQAv2 answer normalisation."""
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.evaluator import BaseMetric

from mmvisionllm.registry import METRICS
from .answer_normalization import normalize_vqa_answer

__all__ = ['VQAAccuracy', 'vqa_accuracy']


def vqa_accuracy(prediction: str, human_answers: Sequence[str]) -> float:
    """Accuracy of one predicted answer against the human answers of one question.

    Args:
        prediction (str): The model's answer.
        human_answers (Sequence[str]): The human answers (10 in VQAv2; any number ≥ 1 works).

    Returns:
        float: Accuracy in [0, 1].
    """
    if not human_answers:
        raise ValueError('vqa_accuracy needs at least one human answer')
    pred = normalize_vqa_answer(prediction)
    gts = [normalize_vqa_answer(a) for a in human_answers]
    if len(gts) == 1:
        return float(pred == gts[0])
    scores = []
    for left_out in range(len(gts)):
        matches = sum(gt == pred for i, gt in enumerate(gts) if i != left_out)
        scores.append(min(1.0, matches / 3.0))
    return sum(scores) / len(scores)


@METRICS.register_module()
class VQAAccuracy(BaseMetric):
    """VQAv2 accuracy of generated answers.

    Reads ``pred_text`` (the generated answer) and ``gt_answers`` (the human answers) of each data
    sample; a sample without them is an error that names its ``question_id``/``img_id``. Samples
    that carry VQAv2's ``answer_type`` (``yes/no``, ``number``, ``other``) are also averaged per
    type, as the official VQAv2 evaluation reports them (``accuracy_yes/no`` etc.).

    Args:
        collect_device (str): Device for collecting results across ranks. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'vqa'.
    """
    default_prefix = 'vqa'

    def __init__(self, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Optional[dict], data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            for key in ('pred_text', 'gt_answers'):
                if key not in sample:
                    ident = sample.get('question_id', sample.get('img_id', '?'))
                    raise KeyError(f'VQAAccuracy: sample {ident} has no `{key}`')
            self.results.append((vqa_accuracy(sample['pred_text'],
                                              sample['gt_answers']), sample.get('answer_type')
                                 or None))

    def compute_metrics(self, results: List[Tuple[float, Optional[str]]]) -> Dict[str, float]:
        metrics = dict(accuracy=sum(acc for acc, _ in results) / max(len(results), 1))
        for answer_type in sorted({t for _, t in results if t is not None}):
            scores = [acc for acc, t in results if t == answer_type]
            metrics[f'accuracy_{answer_type}'] = sum(scores) / len(scores)
        return metrics
