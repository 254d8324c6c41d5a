"""Counting accuracy and mean absolute error, beside an image-blind baseline.

For every (image, class) pair the sample asked about: exact-count accuracy and absolute error of
the prediction. A class the answer did not route to ``[CNT]`` (chat) counts as wrong with the
prediction 0. With ``prior_ann_file`` (the training COCO file) the metric also scores the
image-blind baseline on the same pairs: for each class, the count it most often has in a training
image (a chance level that knows the class statistics but not the image).

mmengine ``BaseMetric`` (collection across ranks, prefixes); the numbers are plain arithmetic.
"""
import json
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from mmvisionllm.registry import METRICS

__all__ = ['CountMetric', 'majority_counts']


def majority_counts(ann_file: str) -> Dict[str, int]:
    """Class name -> its most frequent number of instances per image in a COCO file."""
    with open(ann_file) as f:
        coco = json.load(f)
    names = {c['id']: c['name'] for c in coco['categories']}
    per_image = defaultdict(Counter)
    for ann in coco['annotations']:
        if not ann.get('iscrowd', 0):
            per_image[ann['image_id']][ann['category_id']] += 1
    histogram = {name: Counter() for name in names.values()}
    for image in coco['images']:
        for cat_id, name in names.items():
            histogram[name][per_image[image['id']][cat_id]] += 1
    return {name: counts.most_common(1)[0][0] for name, counts in histogram.items()}


@METRICS.register_module()
class CountMetric(BaseMetric):
    """Exact-count accuracy and MAE of ``pred_counts`` against ``gt_counts``.

    Args:
        prior_ann_file (str, optional): Training COCO file for the image-blind baseline.
        collect_device (str): mmengine's. Defaults to ``'cpu'``.
        prefix (str): Metric prefix. Defaults to ``'count'``.
    """

    default_prefix = 'count'

    def __init__(self,
                 prior_ann_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.prior = majority_counts(prior_ann_file) if prior_ann_file else None

    def process(self, data_batch: Optional[dict], data_samples: Sequence) -> None:
        """Keep (name, true, predicted) per asked class."""
        for sample in data_samples:
            meta = sample if isinstance(sample, dict) else sample.metainfo
            gt_counts = meta.get('gt_counts')
            if gt_counts is None:
                raise KeyError(f'CountMetric: sample {meta.get("img_id")!r} has no gt_counts')
            predicted = meta.get('pred_counts') or {}
            # one result per sample: mmengine cuts the results to the number of samples
            self.results.append([(name, int(count), int(predicted.get(name, 0)), name in predicted)
                                 for name, count in gt_counts.items()])

    def compute_metrics(self, results: List[list]) -> Dict[str, float]:
        """accuracy, mae, routed (share of pairs the model answered) and the blind baseline."""
        results = [pair for sample in results for pair in sample]
        if not results:
            raise ValueError('CountMetric got no sample')
        total = len(results)
        metrics = dict(
            accuracy=sum(t == p for _, t, p, _ in results) / total,
            mae=sum(abs(t - p) for _, t, p, _ in results) / total,
            routed=sum(r for *_, r in results) / total)
        if self.prior is not None:
            blind = [self.prior.get(name, 0) for name, *_ in results]
            metrics['blind_accuracy'] = sum(b == t
                                            for b, (_, t, _, _) in zip(blind, results)) / total
            metrics["blind_mae"] = sum(abs(b - t)
                                       for b, (_, t, _, _) in zip(blind, results)) / total
        return metrics
