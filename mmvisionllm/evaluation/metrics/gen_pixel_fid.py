"""A cheap FID-like distance between generated and real images, on pixel statistics.

FID compares Gaussian fits of Inception features; without Inception weights (no hub) this metric
fits the same Fréchet distance to simple features: the image shrunk to ``size``×``size`` RGB (layout
and colours) concatenated with a ``bins``³ joint colour histogram (palette). It ranks models on
ShapesWorld (where layout and flat colours are the whole content) but is not comparable to FID.
Reused: mmengine's ``BaseMetric``, OpenCV's resize and ``scipy.linalg.sqrtm``.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from scipy import linalg

from mmvisionllm.registry import METRICS
from .gen_image_utils import resize_image, to_hwc_uint8

__all__ = ['PixelFrechetDistance', 'pixel_features', 'frechet_distance']


def pixel_features(image: np.ndarray, size: int = 8, bins: int = 4) -> np.ndarray:
    """Feature vector of an RGB uint8 image [H, W, 3].

    Returns:
        np.ndarray: [size·size·3 + bins³] float64: pixels of the shrunk image in [0, 1], then the
        normalised joint colour histogram.
    """
    small = resize_image(image, (size, size)).astype(np.float64).reshape(-1) / 255.0
    quant = (image.astype(np.int64) * bins) // 256
    index = (quant[..., 0] * bins + quant[..., 1]) * bins + quant[..., 2]
    hist = np.bincount(index.reshape(-1), minlength=bins**3).astype(np.float64)
    return np.concatenate([small, hist / max(hist.sum(), 1.0)])


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussian fits of two feature sets [N, D] and [M, D].

    ``|μa − μb|² + tr(Σa + Σb − 2 (Σa Σb)^½)``, with ``eps`` added to the diagonals so that the few
    samples of a unit test (singular covariances) still give a finite, real square root.
    """
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    cov_a = np.atleast_2d(np.cov(feats_a, rowvar=False)) + eps * np.eye(feats_a.shape[1])
    cov_b = np.atleast_2d(np.cov(feats_b, rowvar=False)) + eps * np.eye(feats_b.shape[1])
    covmean = linalg.sqrtm(cov_a @ cov_b)
    covmean = np.real(covmean)
    value = float(np.sum((mu_a - mu_b)**2) + np.trace(cov_a + cov_b - 2.0 * covmean))
    return max(value, 0.0)


@METRICS.register_module()
class PixelFrechetDistance(BaseMetric):
    """Fréchet distance of pixel features between ``pred_image`` and ``gt_image`` sets.

    Reported (prefix ``gen``): ``pixel_fd`` (0 for identical sets, larger is worse),
    ``num_samples`` (the samples scored) and ``num_missing`` (samples for which the model produced
    no image, e.g. a chat answer routed elsewhere; left out of the distance). A sample without its
    target ``gt_image`` is an error. With
    ``reference_images``, also ``pixel_fd_mean_image``: the distance of a generator that answers
    every prompt with the per-pixel mean of the target images — the constant output that minimises
    the squared error, the chance level of a blurry, prompt-blind generator.

    Args:
        size (int): Side of the shrunk image feature. Defaults to 8.
        bins (int): Histogram bins per channel. Defaults to 4.
        reference_images (bool): Also score the mean image (above). Defaults to False.
        collect_device (str): See ``BaseMetric``.
        prefix (str, optional): See ``BaseMetric``.
    """

    default_prefix: Optional[str] = 'gen'

    def __init__(self,
                 size: int = 8,
                 bins: int = 4,
                 reference_images: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.size = size
        self.bins = bins
        self.reference_images = reference_images

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the features of each (prediction, target) pair."""
        for sample in data_samples:
            gt = to_hwc_uint8(sample.get('gt_image'))
            if gt is None:
                name = sample.get('img_id', '?')
                raise ValueError(f'{type(self).__name__}: sample {name} has no gt_image (the '
                                 'target image of its prompt)')
            pred = to_hwc_uint8(sample.get('pred_image'))
            if pred is None:
                self.results.append(dict(missing=True))
                continue
            result = dict(
                pred=pixel_features(pred, self.size, self.bins),
                gt=pixel_features(gt, self.size, self.bins))
            if self.reference_images:
                result['gt_image'] = resize_image(gt, pred.shape[:2]).astype(np.float64)
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """The distance between the two Gaussian fits (needs at least 2 samples)."""
        num_missing = sum(1 for r in results if r.get('missing'))
        results = [r for r in results if not r.get('missing')]
        if len(results) < 2:
            return dict(pixel_fd=float('nan'), num_samples=len(results), num_missing=num_missing)
        pred = np.stack([r['pred'] for r in results])
        gt = np.stack([r['gt'] for r in results])
        metrics = dict(
            pixel_fd=frechet_distance(pred, gt), num_samples=len(results), num_missing=num_missing)
        if self.reference_images:
            mean_image = np.mean([r['gt_image'] for r in results], axis=0).round().astype(np.uint8)
            constant = np.repeat(
                pixel_features(mean_image, self.size, self.bins)[None], len(results), axis=0)
            metrics['pixel_fd_mean_image'] = frechet_distance(constant, gt)
        return metrics
