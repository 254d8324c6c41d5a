"""Editing metric on ShapesWorld: GenEval-style success + L1 / PSNR to the target image.

Reused: mmengine's ``BaseMetric`` (through the generation metric); the detector and the object check
of the generation metric (``gen_detector``, ``gen_object_checker``). An edit instruction ("make the
star green") only states the change, so the reference objects are those the detector finds in the
ground-truth target image (``gt_image``): the edit succeeds when the edited image holds exactly the
same objects — same classes, same measured colours, same counts, nothing extra.
"""
from typing import Dict, List, Optional, Sequence

import mmcv
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
        detector (dict | object | None): See :class:`ShapesGenEvalMetric`. None: pixel errors
            only (no ``success``), e.g. where no trained judge is at hand.
        vocabulary (dict, optional): ShapesWorld vocabulary overrides.
        score_thr (float): Detection score threshold. Defaults to 0.3.
        fg_threshold (float): See :func:`measure_colour`. Defaults to 40.
        max_colour_dist (float): See :func:`measure_colour`. Defaults to 80.
        reference_images (bool): Also score the unedited source image (read from the sample's
            ``img_path``) as the prediction: ``source_success``, ``source_l1``, ``source_psnr``,
            the do-nothing baseline; and, with a detector, the previous sample's target:
            ``mismatched_success``, the chance level of a real image. Defaults to False.
        collect_device (str): See ``BaseMetric``.
        prefix (str, optional): See ``BaseMetric``.
    """

    default_prefix: Optional[str] = 'edit'
    allows_no_detector = True

    def __init__(self,
                 detector,
                 vocabulary: Optional[dict] = None,
                 score_thr: float = 0.3,
                 fg_threshold: float = 40.0,
                 max_colour_dist: float = 80.0,
                 reference_images: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(
            detector,
            vocabulary,
            score_thr=score_thr,
            check_extra=True,
            exact_count=True,
            fg_threshold=fg_threshold,
            max_colour_dist=max_colour_dist,
            reference_images=reference_images,
            collect_device=collect_device,
            prefix=prefix)
        self._previous_target_objects = None  # detections in the last target seen

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Detect objects in each prediction and its target; compare them and the pixels."""
        preds, gts, sources = [], [], []
        for sample in data_samples:
            pred, gt = to_hwc_uint8(sample.get('pred_image')), to_hwc_uint8(sample.get('gt_image'))
            if gt is None:
                raise ValueError('ShapesEditMetric needs gt_image in every sample '
                                 f'(sample {sample.get("img_path", "?")} has none)')
            preds.append(None if pred is None else resize_image(pred, gt.shape[:2]))
            gts.append(gt)
            if self.reference_images:
                sources.append(resize_image(self._source_image(sample), gt.shape[:2]))
        valid = [i for i, pred in enumerate(preds) if pred is not None]
        if self._detector is None:  # pixel errors only
            found = [[] for _ in range(len(gts) + len(valid) + len(sources))]
        else:
            found = self.detect(gts + [preds[i] for i in valid] + sources)
        found_gt = found[:len(gts)]
        found_pred = dict(zip(valid, found[len(gts):len(gts) + len(valid)]))
        found_source = found[len(gts) + len(valid):]
        for i, gt in enumerate(gts):
            wanted = specs_from_found(found_gt[i])
            result = dict(success=False, l1=None, psnr=None)
            if i in found_pred:
                result['l1'], result['psnr'] = l1_and_psnr(preds[i], gt)
                result['success'] = bool(check_objects(found_pred[i], wanted, (), True, True))
            if self.reference_images:
                result['source_success'] = bool(
                    check_objects(found_source[i], wanted, (), True, True))
                result['source_l1'], result['source_psnr'] = l1_and_psnr(sources[i], gt)
                if self._detector is not None:  # another sample's target as the edit
                    previous = self._previous_target_objects
                    result['mismatched_success'] = None if previous is None else bool(
                        check_objects(previous, wanted, (), True, True))
                    self._previous_target_objects = found_gt[i]
            self.results.append(result)

    @staticmethod
    def _source_image(sample: dict) -> np.ndarray:
        """The unedited source image (RGB) read from the sample's ``img_path``."""
        path = sample.get('img_path')
        if not path:
            raise ValueError('reference_images needs img_path (the source image) in every sample')
        return mmcv.imread(path, channel_order='rgb')

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Success rate and the mean pixel errors."""
        scored = [r for r in results if r['l1'] is not None]
        success = {} if self._detector is None else dict(
            success=float(np.mean([r['success'] for r in results])) if results else 0.0)
        return dict(
            **success,
            l1=float(np.mean([r['l1'] for r in scored])) if scored else float('nan'),
            psnr=float(np.mean([r['psnr'] for r in scored])) if scored else float('nan'),
            num_samples=len(results),
            num_missing=len(results) - len(scored),
            **self._reference_metrics(results))

    def _reference_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Scores of returning the source unchanged (the do-nothing edit) and, for success, of
        returning the previous sample's target (a real image of the wrong edit), when computed.

        Success rates are over every sample, as the model's (a missing edit fails); the source's
        L1 / PSNR are over the samples whose edit the model's L1 / PSNR average, so the two
        compare on the same samples when some edits are missing (``num_missing``).
        """
        references = [r for r in results if 'source_success' in r]
        if not references:
            return {}
        pixel_references = [r for r in references if r['l1'] is not None]
        success = {}
        if self._detector is not None:
            mismatched = [
                r['mismatched_success'] for r in references
                if r.get('mismatched_success') is not None
            ]
            success = dict(
                source_success=float(np.mean([r['source_success'] for r in references])),
                mismatched_success=float(np.mean(mismatched)) if mismatched else float('nan'))
        return dict(
            **success,
            source_l1=float(np.mean([r['source_l1'] for r in pixel_references]))
            if pixel_references else float('nan'),
            source_psnr=float(np.mean([r['source_psnr'] for r in pixel_references]))
            if pixel_references else float('nan'))
