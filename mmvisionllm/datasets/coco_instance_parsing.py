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
  numbers, and the polygons' extent overlaps the image; RLE masks are decoded by pycocotools.
  One rule repairs instead of refusing, because real COCO needs it (``instances_train2017.json``
  holds a few objects with a stray 1- or 2-point part beside their real outline): a part of one or
  two well-formed points, which encloses no pixel, is dropped from an object that keeps at least
  one valid polygon, and every such object is reported (``repaired``, logged by the dataset with
  its annotation id). An object with no valid polygon left is refused as before;
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


def _is_point_or_segment(polygon: Any) -> bool:
    """A well-formed polygon part of 1 or 2 points (2 or 4 finite numbers): it covers no pixel."""
    return (isinstance(polygon, list) and len(polygon) in (2, 4)
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in polygon))


def drop_point_parts(segmentation: Any) -> Tuple[Any, int]:
    """``segmentation`` without its 1-/2-point parts when a valid part remains (the repair rule of
    the module docstring), and the number of parts dropped."""
    if not isinstance(segmentation, list):
        return segmentation, 0
    kept = [polygon for polygon in segmentation if not _is_point_or_segment(polygon)]
    if not kept or len(kept) == len(segmentation):
        return segmentation, 0
    return kept, len(segmentation) - len(kept)


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
                         with_keypoints: bool = False
                         ) -> Tuple[List[Dict], List[Tuple[int, str]], List[Tuple[int, str]]]:
    """Parse the annotations of one image.

    Args:
        ann_info (list[dict]): COCO annotations of the image.
        img_info (dict): COCO image record (``width``, ``height``).
        cat2label (dict[int, int]): Category id → dataset label of the configured classes.
        with_keypoints (bool): Also copy ``keypoints`` as a [K, 3] float32 array (a missing
            ``keypoints`` field is an error).

    Returns:
        tuple[list[dict], list[tuple[int, str]], list[tuple[int, str]]]: mmdet instances
        (``bbox`` xyxy, ``bbox_label``, ``ignore_flag``, optional ``mask`` and ``keypoints``),
        ``(annotation id, reason)`` of each annotation left out and of each one repaired.
    """
    instances, skipped, repaired = [], [], []
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
        segmentation = ann.get('segmentation')
        if 'segmentation' in ann:
            segmentation, dropped = drop_point_parts(segmentation)
            if dropped:
                repaired.append((ann_id, f'{dropped} polygon part(s) of 1-2 points dropped'))
            problem = polygon_problem(segmentation, width, height)
            if problem is not None:
                raise ValueError(f'{where} has a malformed segmentation: {problem}')
        if segmentation:
            instance['mask'] = segmentation
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
    return instances, skipped, repaired
