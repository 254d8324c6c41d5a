"""Loading transforms: optional input image, mmdet annotations with keypoints, target images.

``LoadMultimodalAnnotations`` extends mmdet's ``LoadAnnotations`` (boxes, labels, masks, ignore
flags all reused) with the COCO keypoints that mmdet does not load; boxes default to plain numpy
arrays (``box_type=None``), which mmdet's geometric transforms accept. ``LoadOptionalImageFromFile``
is mmcv's ``LoadImageFromFile`` for samples that may have no image (text-only conversations).
``LoadTargetImage`` reads the target of generation/editing with mmcv's decoder.
"""
from typing import Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmdet.datasets.transforms import LoadAnnotations as MMDetLoadAnnotations
from mmengine import fileio

from ...registry import TRANSFORMS

__all__ = [
    'LoadOptionalImageFromFile', 'LoadMultimodalAnnotations', 'LoadTargetImage',
    'check_image_matches_record'
]


def check_image_matches_record(results: dict) -> None:
    """Refuse an image whose size differs from its annotation record's ``height``/``width``.

    The boxes, masks and keypoints of the record are in the record's pixel frame; on an image of
    another size the resize would silently move them (a 1024x768 file under a 128x128 record
    turned box [70, 66, 86, 81] into [8.8, 8.2, 10.8, 10.1]). Records without a size (LLaVA,
    text-to-image) are not checked.
    """
    height, width = results.get('height'), results.get('width')
    if height is None or width is None or results.get('img') is None:
        return
    actual = results['img'].shape[:2]
    if tuple(actual) != (int(height), int(width)):
        raise ValueError(f'image {results["img_path"]} is {actual[1]}x{actual[0]} (width x '
                         f'height) but its annotation record says {width}x{height}; the '
                         'annotations would land on the wrong pixels')


@TRANSFORMS.register_module()
class LoadOptionalImageFromFile(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that leaves samples with ``img_path=None`` without ``img``.

    Required keys: ``img_path`` (may be None). Added keys: ``img`` [H, W, 3] uint8 BGR,
    ``img_shape``, ``ori_shape`` (only when there is an image).
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image if the sample has one."""
        if results.get('img_path') is None:
            return results
        return super().transform(results)


@TRANSFORMS.register_module()
class LoadMultimodalAnnotations(MMDetLoadAnnotations):
    """mmdet ``LoadAnnotations`` + COCO keypoints.

    Added keys (besides mmdet's ``gt_bboxes`` [n, 4] float32 xyxy, ``gt_bboxes_labels`` [n],
    ``gt_masks``, ``gt_ignore_flags`` [n]): with ``with_keypoints``, ``gt_keypoints`` [n, K, 2]
    float32 and ``gt_keypoints_visible`` [n, K] float32 (1 where the COCO visibility flag is > 0,
    mmpose's convention).

    Args:
        with_keypoints (bool): Load ``instances[i]['keypoints']`` ([K, 3]). Defaults to False.
        box_type (str, optional): mmdet box type; None keeps numpy arrays. Defaults to None.
        **kwargs: mmdet ``LoadAnnotations`` arguments (``with_bbox``, ``with_label``,
            ``with_mask`` ...).
    """

    def __init__(self,
                 with_keypoints: bool = False,
                 box_type: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(box_type=box_type, **kwargs)
        self.with_keypoints = with_keypoints

    def _load_kps(self, results: dict) -> None:
        """Stack the instances' keypoints into ``gt_keypoints``/``gt_keypoints_visible``."""
        instances = results.get('instances', [])
        if instances:
            keypoints = np.stack([
                np.asarray(inst['keypoints'], dtype=np.float32).reshape(-1, 3) for inst in instances
            ])
        else:
            keypoints = np.zeros((0, results.get('num_keypoints', 0), 3), dtype=np.float32)
        results['gt_keypoints'] = keypoints[..., :2].copy()
        results['gt_keypoints_visible'] = np.minimum(1.0, keypoints[..., 2]).astype(np.float32)

    def transform(self, results: dict) -> dict:
        """Check the image size against the record, load boxes/labels/masks as mmdet does, then
        keypoints."""
        check_image_matches_record(results)
        results = super().transform(results)
        if self.with_keypoints:
            self._load_kps(results)
        return results

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, with_keypoints={self.with_keypoints})'


@TRANSFORMS.register_module()
class LoadTargetImage(BaseTransform):
    """Load the target image of generation/editing.

    Required keys: ``target_img_path``. Added keys: ``gt_image`` [H, W, 3] uint8 (BGR, like
    ``img``; ``PackMultimodalInputs`` converts both).

    Args:
        scale (tuple[int, int], optional): Resize the target to ``(w, h)``. Defaults to None.
        interpolation (str): mmcv interpolation of the resize. Defaults to ``'bilinear'``.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 scale: Optional[Tuple[int, int]] = None,
                 interpolation: str = 'bilinear',
                 backend_args: Optional[dict] = None) -> None:
        self.scale = tuple(scale) if scale is not None else None
        self.interpolation = interpolation
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        """Read (and optionally resize) the target."""
        path = results['target_img_path']
        image = mmcv.imfrombytes(fileio.get(path, backend_args=self.backend_args), flag='color')
        if image is None:
            raise ValueError(f'could not decode target image {path}')
        if self.scale is not None:
            image = mmcv.imresize(image, self.scale, interpolation=self.interpolation)
        results['gt_image'] = image
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(scale={self.scale}, interpolation={self.interpolation!r})'
