"""mmdet's ``Resize`` that also rescales ``gt_keypoints``.

mmdet 3.3's ``Resize`` rescales boxes, masks and segmentation maps but not keypoints; this subclass
applies the same ``scale_factor`` to ``gt_keypoints`` so the pose gt stays in the decoder view's
coordinates. (Flips are not handled: a flip must also swap left/right keypoints.)
"""
import numpy as np
from mmdet.datasets.transforms import Resize as MMDetResize

from ...registry import TRANSFORMS

__all__ = ['ResizeWithKeypoints']


@TRANSFORMS.register_module()
class ResizeWithKeypoints(MMDetResize):
    """mmdet ``Resize`` (same arguments) + ``gt_keypoints`` [n, K, 2] scaled by ``scale_factor``."""

    def transform(self, results: dict) -> dict:
        """Resize image, boxes, masks as mmdet does, then the keypoints."""
        results = super().transform(results)
        if results.get('gt_keypoints') is not None:
            w_scale, h_scale = results['scale_factor']
            results['gt_keypoints'] = (
                results['gt_keypoints'] * np.array([w_scale, h_scale], dtype=np.float32))
        return results
