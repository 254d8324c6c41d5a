"""Turn the COCO annotations of one image into mmdet ``instances`` and report what was left out.

Follows the rules of mmdet's ``CocoDataset.parse_data_info`` (xywh → xyxy, ``iscrowd`` → ignore
flag, segmentation kept as the mask annotation, degenerate boxes and unknown categories dropped) but
returns the dropped annotations with their reason instead of discarding them silently, and can also
carry COCO keypoints (``[K, 3]``: x, y, visibility) for the pose task.

Malformed masks and keypoints are refused (``ValueError`` naming the annotation and image; the
dataset adds the file), never passed on: mmdet's ``LoadAnnotations`` moved an object with a polygon
of fewer than 6 numbers to ``ignored_instances`` while the answer still named it, and a polygon
outside the image became a 0-pixel mask. The rules:

* polygons (``segmentation`` a list): each polygon is a list of an even number >= 6 of finite
  numbers, and the polygons' extent overlaps the image; RLE masks are decoded by pycocotools;
* keypoints: visibility is 0 (not labelled), 1 (labelled, hidden) or 2 (visible); every value is
  finite; a labelled keypoint (visibility > 0) lies inside the image (``0 <= x <= width``,
  ``0 <= y <= height``).
"""
import math
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .annotation_checks import box_problem

__all__ = ['parse_coco_instances', 'polygon_problem', 'keypoints_problem']


def polygon_problem(segmentation: Any, width: float, height: float) -> Optional[str]:
    """What is wrong with a COCO polygon ``segmentation`` (list of polygons), or None."""
    if not isinstance(segmentation, list):
        return None  # RLE dict: pycocotools decodes (and refuses) it
    if not segmentation:
        return 'an empty polygon list'
    xs, ys = [], []
    for polygon in segmentation:
        if (not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2
                or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in polygon)):
            shown = polygon if not isinstance(polygon, list) or len(polygon) <= 8 else \
                f'[{len(polygon)} values]'
            return (f'polygon {shown!r} is not an even number >= 6 of finite numbers '
                    '(x1, y1, x2, y2, x3, y3, ...)')
        xs += polygon[0::2]
        ys += polygon[1::2]
    if max(xs) <= 0 or min(xs) >= width or max(ys) <= 0 or min(ys) >= height:
        return (f'the polygons lie outside the {width}x{height} image (x in [{min(xs)}, '
                f'{max(xs)}], y in [{min(ys)}, {max(ys)}]): the mask would be empty')
    return None


def keypoints_problem(keypoints: np.ndarray, width: float, height: float) -> Optional[str]:
    """What is wrong with [K, 3] COCO keypoints (x, y, visibility), or None."""
    if not np.isfinite(keypoints).all():
        return 'keypoints hold NaN or infinite values'
    visibility = keypoints[:, 2]
    bad = [int(k) for k in np.flatnonzero(~np.isin(visibility, (0, 1, 2)))]
    if bad:
        return (f'keypoint(s) {bad} have visibility {visibility[bad].tolist()}; COCO visibility '
                'is 0 (not labelled), 1 (hidden) or 2 (visible)')
    labelled = visibility > 0
    outside = labelled & ((keypoints[:, 0] < 0) | (keypoints[:, 0] > width) |
                          (keypoints[:, 1] < 0) | (keypoints[:, 1] > height))
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        return (f'labelled keypoint {k} at ({keypoints[k, 0]:g}, {keypoints[k, 1]:g}) lies '
                f'outside the {width}x{height} image')
    return None


def parse_coco_instances(ann_info: List[Dict],
                         img_info: Dict,
                         cat2label: Dict[int, int],
                         with_keypoints: bool = False) -> Tuple[List[Dict], List[Tuple[int, str]]]:
    """Parse the annotations of one image.

    Args:
        ann_info (list[dict]): COCO annotations of the image.
        img_info (dict): COCO image record (``width``, ``height``).
        cat2label (dict[int, int]): Category id → dataset label of the configured classes.
        with_keypoints (bool): Also copy ``keypoints`` as a [K, 3] float32 array (a missing
            ``keypoints`` field is an error).

    Returns:
        tuple[list[dict], list[tuple[int, str]]]: mmdet instances (``bbox`` xyxy, ``bbox_label``,
        ``ignore_flag``, optional ``mask`` and ``keypoints``) and ``(annotation id, reason)`` of
        each annotation left out.
    """
    instances, skipped = [], []
    width, height = img_info['width'], img_info['height']
    for ann in ann_info:
        ann_id = ann.get('id', -1)
        if ann.get('ignore', False):
            skipped.append((ann_id, 'marked ignore'))
            continue
        if ann['category_id'] not in cat2label:
            skipped.append((ann_id, 'category not in the configured classes'))
            continue
        problem = box_problem(ann.get('bbox'), width, height, ann.get('area'))
        if problem == 'not 4 numbers':
            raise ValueError(f'annotation id={ann_id} of image id={img_info.get("id")} has bbox '
                             f'{ann.get("bbox")!r}: not 4 numbers [x, y, w, h]')
        if problem is not None:
            skipped.append((ann_id, f'box {ann.get("bbox")}: {problem}'))
            continue
        x1, y1, w, h = ann['bbox']
        instance = {
            'bbox': [x1, y1, x1 + w, y1 + h],
            'bbox_label': cat2label[ann['category_id']],
            'ignore_flag': 1 if ann.get('iscrowd', False) else 0,
            'ann_id': ann_id,
        }
        where = f'annotation id={ann_id} of image id={img_info.get("id")}'
        if 'segmentation' in ann:
            problem = polygon_problem(ann['segmentation'], width, height)
            if problem is not None:
                raise ValueError(f'{where} has a malformed segmentation: {problem}')
        if ann.get('segmentation'):
            instance['mask'] = ann['segmentation']
        if with_keypoints:
            if 'keypoints' not in ann:
                raise ValueError(f'{where} has no "keypoints" field')
            values = ann['keypoints']
            if (not isinstance(values, list) or len(values) % 3
                    or not all(isinstance(v, (int, float)) for v in values)):
                raise ValueError(f'{where}: "keypoints" must be a flat list of x, y, visibility '
                                 'numbers')
            keypoints = np.asarray(values, dtype=np.float32).reshape(-1, 3)
            problem = keypoints_problem(keypoints, width, height)
            if problem is not None:
                raise ValueError(f'{where}: {problem}')
            instance['keypoints'] = keypoints
        instances.append(instance)
    return instances, skipped
