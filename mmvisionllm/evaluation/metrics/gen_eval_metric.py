"""GenEval-style object/colour accuracy of text-to-image generation on ShapesWorld.

Reused: mmengine's ``BaseMetric`` (collection across ranks) and, through ``gen_detector``, mmdet's
``init_detector`` / ``inference_detector`` with the ShapesWorld detector's own config and
checkpoint. GenEval's protocol (a detector checks the prompt's objects, counts and colours in the
generated image) is followed; its code is not used (it needs Mask2Former weights and CLIP colour
classification). How the colour is measured is described in ``gen_object_checker``.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric

from mmvisionllm.registry import METRICS
from mmvisionllm.structures import caption_of
from .gen_caption_parser import ShapesVocabulary, parse_caption
from .gen_detector import build_gen_detector
from .gen_image_utils import resize_image, to_hwc_uint8
from .gen_object_checker import check_objects, describe_objects

__all__ = ['ShapesGenEvalMetric']


@METRICS.register_module()
class ShapesGenEvalMetric(BaseMetric):
    """Fraction of generated images whose detected objects match their caption.

    For every sample the caption (metainfo ``caption_key``, else the first human turn) is parsed
    into requested and excluded objects with the ShapesWorld vocabulary; the detector runs on
    ``pred_image``; the image passes when :func:`check_objects` accepts the detections. A sample
    without ``pred_image`` (the model never emitted ``[GEN]``) fails.

    Reported (prefix ``geneval``): ``accuracy``; ``accuracy_single`` / ``accuracy_multi`` /
    ``accuracy_counting`` / ``accuracy_colour`` over the samples with one phrase / several phrases
    / a count ≥ 2 / a named colour; ``num_samples``. With ``reference_images``, also
    ``accuracy_real_images`` (the sample's own ``gt_image``, the upper bound the detector allows)
    and ``accuracy_mismatched_images`` (the ``gt_image`` of the previous sample checked against
    this caption: real ShapesWorld images that ignore the prompt, i.e. chance level).

    Args:
        detector (dict | object): ``dict(type='MMDetShapesDetector', config=..., checkpoint=...)``
            or an object with the detector interface (``classes``, ``__call__``). A config is built
            on first use, so a training run is not blocked by a detector checkpoint that only its
            evaluation needs.
        vocabulary (dict, optional): Overrides of the ShapesWorld vocabulary (see
            :meth:`ShapesVocabulary.from_config`).
        caption_key (str): Metainfo key of the caption. Defaults to ``'caption'``.
        score_thr (float): Detection score threshold. Defaults to 0.3.
        check_extra (bool): Fail on detections nobody asked for. Defaults to True.
        exact_count (bool): Require exact counts instead of at least. Defaults to False.
        fg_threshold (float): Background distance of foreground pixels (box colour). Defaults to 40.
        max_colour_dist (float): Largest RGB distance to a named colour. Defaults to 80.
        image_size (int | tuple[int, int], optional): Resize generated images to this (H, W) before
            detection, e.g. the detector's training resolution (128 for ShapesWorld) when the
            generator works at 64 px. None keeps their size.
        collect_device (str): See ``BaseMetric``.
        reference_images (bool): Also score ``gt_image`` and a mismatched real image per sample
            (see above). Defaults to False.
        prefix (str, optional): See ``BaseMetric``.
    """

    default_prefix: Optional[str] = 'geneval'
    allows_no_detector = False  # the object check is the whole metric

    def __init__(self,
                 detector,
                 vocabulary: Optional[dict] = None,
                 caption_key: str = 'caption',
                 score_thr: float = 0.3,
                 check_extra: bool = True,
                 exact_count: bool = False,
                 fg_threshold: float = 40.0,
                 max_colour_dist: float = 80.0,
                 image_size: Optional[Union[int, Tuple[int, int]]] = None,
                 reference_images: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.reference_images = reference_images
        self._previous_gt: Optional[np.ndarray] = None
        # a config is built on first use; a ready object is checked now
        self._detector = detector if isinstance(detector, dict) or (
            detector is None and self.allows_no_detector) else build_gen_detector(detector)
        self.vocabulary = ShapesVocabulary.from_config(vocabulary)
        self.caption_key = caption_key
        self.score_thr = score_thr
        self.check_extra = check_extra
        self.exact_count = exact_count
        self.fg_threshold = fg_threshold
        self.max_colour_dist = max_colour_dist
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else image_size

    @property
    def detector(self):
        """The detector, built from its config on first use."""
        if isinstance(self._detector, dict):
            self._detector = build_gen_detector(self._detector)
        return self._detector

    def detect(self, images: Sequence[np.ndarray]) -> List[list]:
        """Detected, coloured objects (:class:`FoundObject` lists) of RGB uint8 images [H, W, 3]."""
        if not images:
            return []
        detections = self.detector(list(images))
        for i, det in enumerate(detections):
            if not (np.isfinite(det['bboxes']).all() and np.isfinite(det['scores']).all()):
                raise ValueError(
                    f'{type(self.detector).__name__} gave non-finite boxes or scores for image '
                    f'{i} of the batch: its weights are unusable (uninitialised or diverged)')
        return [
            describe_objects(img, det, self.detector.classes, self.vocabulary, self.score_thr,
                             self.fg_threshold, self.max_colour_dist)
            for img, det in zip(images, detections)
        ]

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Detect objects in the batch's ``pred_image`` and store one verdict per sample."""
        images = [to_hwc_uint8(s.get('pred_image')) for s in data_samples]
        if self.image_size is not None:
            images = [None if img is None else resize_image(img, self.image_size) for img in images]
        with_image = [i for i, img in enumerate(images) if img is not None]
        found = dict(zip(with_image, self.detect([images[i] for i in with_image])))
        for i, sample in enumerate(data_samples):
            present, absent = parse_caption(caption_of(sample, self.caption_key), self.vocabulary)
            ok = i in found and check_objects(found[i], present, absent, self.check_extra,
                                              self.exact_count)
            self.results.append(
                dict(
                    success=bool(ok),
                    single=len(present) == 1 and present[0].count == 1,
                    multi=len(present) > 1,
                    counting=any(s.count > 1 for s in present),
                    colour=any(s.colour is not None for s in present)))
        if self.reference_images:
            self._score_references(data_samples, self.results[-len(data_samples):])

    def _score_references(self, data_samples: Sequence[dict], results: List[dict]) -> None:
        """Add ``real`` / ``mismatched`` verdicts (None where there is no such image)."""
        real, mismatched = [], []
        for sample in data_samples:
            gt = to_hwc_uint8(sample.get('gt_image'))
            if gt is None:
                raise ValueError('reference_images needs gt_image in every sample '
                                 f'(sample {sample.get("img_id", "?")} has none)')
            if self.image_size is not None:
                gt = resize_image(gt, self.image_size)
            real.append(gt)
            mismatched.append(self._previous_gt)
            self._previous_gt = gt
        with_mismatch = [i for i, img in enumerate(mismatched) if img is not None]
        found = self.detect(real + [mismatched[i] for i in with_mismatch])
        found_mismatched = dict(zip(with_mismatch, found[len(real):]))
        for i, (sample, result) in enumerate(zip(data_samples, results)):
            present, absent = parse_caption(caption_of(sample, self.caption_key), self.vocabulary)
            result['real'] = bool(
                check_objects(found[i], present, absent, self.check_extra, self.exact_count))
            result['mismatched'] = None if i not in found_mismatched else bool(
                check_objects(found_mismatched[i], present, absent, self.check_extra,
                              self.exact_count))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Overall and per-kind accuracy."""
        metrics = dict(
            accuracy=float(np.mean([r['success'] for r in results])) if results else 0.0,
            num_samples=len(results))
        for kind in ('single', 'multi', 'counting', 'colour'):
            subset = [r['success'] for r in results if r[kind]]
            if subset:
                metrics[f'accuracy_{kind}'] = float(np.mean(subset))
        for kind in ('real', 'mismatched'):
            scored = [r[kind] for r in results if r.get(kind) is not None]
            if scored:
                metrics[f'accuracy_{kind}_images'] = float(np.mean(scored))
        return metrics
