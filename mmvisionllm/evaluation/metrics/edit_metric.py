"""Editing metric on ShapesWorld: GenEval-style success + L1 / PSNR to the target image.

Reused: mmengine's ``BaseMetric`` (through the generation metric); the detector and the object check
of the generation metric (``gen_detector``, ``gen_object_checker``). An edit instruction ("make the
star green") only states the change, so the reference objects are those the detector finds in the
ground-truth target image (``gt_image``): the edit succeeds when the edited image holds exactly the
same objects — same classes, same measured colours, same counts, nothing extra.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmvisionllm.registry import METRICS
from .gen_eval_metric import ShapesGenEvalMetric
from .gen_image_utils import l1_and_psnr, resize_image, to_hwc_uint8
from .gen_object_checker import check_objects, specs_from_found

__all__ = ['ShapesEditMetric']


@METRICS.register_module()
class ShapesEditMetric(ShapesGenEvalMetric):
    """Success rate, L1 and PSNR of edited images (``pred_image``) against ``gt_image``.

    Reported (prefix ``edit``): ``success`` (fraction of samples passing the object check), ``l1``
    (mean absolute error in [0, 1]), ``psnr`` (dB, identical images count as 100) and
    ``num_samples``. The prediction is resized to the target's size before detection and pixel
    comparison. A sample without ``pred_image`` fails and is left out of L1/PSNR (``num_missing``
    counts them).

    Args:
        detector (dict | object): See :class:`ShapesGenEvalMetric`.
        vocabulary (dict, optional): ShapesWorld vocabulary overrides.
        score_thr (float): Detection score threshold. Defaults to 0.3.
        fg_threshold (float): See :func:`measure_colour`. Defaults to 40.
        max_colour_dist (float): See :func:`measure_colour`. Defaults to 80.
        collect_device (str): See ``BaseMetric``.
        prefix (str, optional): See ``BaseMetric``.
    """

    default_prefix: Optional[str] = 'edit'

    def __init__(self,
                 detector,
                 vocabulary: Optional[dict] = None,
                 score_thr: float = 0.3,
                 fg_threshold: float = 40.0,
                 max_colour_dist: float = 80.0,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(
            detector, vocabulary, score_thr=score_thr, check_extra=True, exact_count=True,
            fg_threshold=fg_threshold, max_colour_dist=max_colour_dist,
            collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Detect objects in each prediction and its target; compare them and the pixels."""
        pairs = []
        for sample in data_samples:
            pred, gt = to_hwc_uint8(sample.get('pred_image')), to_hwc_uint8(sample.get('gt_image'))
            if gt is None:
                raise ValueError('ShapesEditMetric needs gt_image in every sample')
            pairs.append((None if pred is None else resize_image(pred, gt.shape[:2]), gt))
        valid = [i for i, (pred, _) in enumerate(pairs) if pred is not None]
        found = self.detect([pairs[i][0] for i in valid] + [pairs[i][1] for i in valid])
        found_pred, found_gt = found[:len(valid)], found[len(valid):]
        for pred_objs, gt_objs, i in zip(found_pred, found_gt, valid):
            l1, psnr = l1_and_psnr(pairs[i][0], pairs[i][1])
            ok = check_objects(pred_objs, specs_from_found(gt_objs), (), True, True)
            self.results.append(dict(success=bool(ok), l1=l1, psnr=psnr))
        for _ in range(len(pairs) - len(valid)):
            self.results.append(dict(success=False, l1=None, psnr=None))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Success rate and the mean pixel errors."""
        scored = [r for r in results if r['l1'] is not None]
        return dict(
            success=float(np.mean([r['success'] for r in results])) if results else 0.0,
            l1=float(np.mean([r['l1'] for r in scored])) if scored else float('nan'),
            psnr=float(np.mean([r['psnr'] for r in scored])) if scored else float('nan'),
            num_samples=len(results),
            num_missing=len(results) - len(scored))
