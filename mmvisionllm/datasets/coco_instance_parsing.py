"""Turn the COCO annotations of one image into mmdet ``instances`` and report what was left out.

Follows the rules of mmdet's ``CocoDataset.parse_data_info`` (xywh → xyxy, ``iscrowd`` → ignore
flag, segmentation kept as the mask annotation, degenerate boxes and unknown categories dropped) but
returns the dropped annotations with their reason instead of discarding them silently, and can also
carry COCO keypoints (``[K, 3]``: x, y, visibility) for the pose task.
"""
from typing import Dict, List, Tuple

import numpy as np

from .annotation_checks import box_problem

__all__ = ['parse_coco_instances']


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
        if ann.get('segmentation'):
            instance['mask'] = ann['segmentation']
        if with_keypoints:
            if 'keypoints' not in ann:
                raise ValueError(f'annotation id={ann_id} of image id={img_info.get("id")} has no '
                                 '"keypoints" field')
            instance['keypoints'] = np.asarray(ann['keypoints'], dtype=np.float32).reshape(-1, 3)
        instances.append(instance)
    return instances, skipped
