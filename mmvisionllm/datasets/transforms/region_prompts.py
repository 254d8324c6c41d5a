"""Turn the box/mask prompts of a sample into the bool masks of its ``<region>`` placeholders.

Masks are decoded with pycocotools (RLE, compressed or not, and polygons), as COCO stores them.
Box prompts become filled rectangles, so the region encoder sees one kind of input.
"""
from typing import List

import numpy as np
from mmcv.transforms import BaseTransform
from pycocotools import mask as mask_utils

from ...registry import TRANSFORMS

__all__ = ['LoadRegionPrompts', 'region_prompt_to_mask']


def region_prompt_to_mask(prompt: dict, height: int, width: int) -> np.ndarray:
    """Rasterise one prompt.

    Args:
        prompt (dict): ``{"type": "box"|"mask", "bbox": [x, y, w, h], "segmentation": ...}``.
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: [height, width] bool mask.
    """
    prompt_type = prompt.get('type', 'mask' if 'segmentation' in prompt else 'box')
    if prompt_type == 'box':
        x, y, w, h = prompt['bbox']
        mask = np.zeros((height, width), dtype=bool)
        x1, y1 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
        x2, y2 = min(int(np.ceil(x + w)), width), min(int(np.ceil(y + h)), height)
        mask[y1:y2, x1:x2] = True
        return _non_empty(mask, prompt, height, width)
    segmentation = prompt['segmentation']
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get('counts'), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    mask = mask_utils.decode(rle).astype(bool)
    if mask.shape != (height, width):
        raise ValueError(f'mask prompt of size {mask.shape} does not match the image '
                         f'({height}, {width})')
    return _non_empty(mask, prompt, height, width)


def _non_empty(mask: np.ndarray, prompt: dict, height: int, width: int) -> np.ndarray:
    """``mask``, or an error when the prompt covers no pixel of the image (outside it, or empty)."""
    if not mask.any():
        shown = {k: prompt[k] for k in ('type', 'bbox') if k in prompt}
        raise ValueError(f'region prompt {shown or prompt} covers no pixel of the {height}x{width} '
                         'image')
    return mask


@TRANSFORMS.register_module()
class LoadRegionPrompts(BaseTransform):
    """Required keys: ``region_prompts`` (list), ``ori_shape``. Added keys: ``regions``: list of
    [H_ori, W_ori] bool masks (empty list when there are no prompts)."""

    def transform(self, results: dict) -> dict:
        """Rasterise every prompt at the original image size."""
        prompts = results.get('region_prompts') or []
        if prompts and 'ori_shape' not in results:
            raise KeyError('LoadRegionPrompts needs the image loaded first (no "ori_shape")')
        regions: List[np.ndarray] = [
            region_prompt_to_mask(prompt, *results['ori_shape'][:2]) for prompt in prompts
        ]
        results['regions'] = regions
        return results
