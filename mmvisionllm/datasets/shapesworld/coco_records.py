"""COCO-format records of ShapesWorld objects (instances, keypoints, categories).

Masks are stored as COCO RLE produced by pycocotools (so mmdet's ``CocoMetric``, mmpose's
``CocoMetric`` and the COCO API read them as they read real COCO), boxes and areas come from the
same RLE, which keeps box, mask and area consistent to the pixel.
"""
from typing import Dict, List

import numpy as np
from pycocotools import mask as mask_utils

from .world_spec import CATEGORY_IDS, CATEGORY_NAMES, KEYPOINT_NAMES, PERSON_CLASS, SKELETON

__all__ = [
    'encode_mask', 'instance_record', 'keypoint_record', 'instance_categories',
    'keypoint_categories'
]


def encode_mask(mask: np.ndarray) -> Dict:
    """COCO RLE of a bool mask [H, W] with ``counts`` as a str (JSON-serialisable)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(v) for v in rle['size']], 'counts': rle['counts'].decode('ascii')}


def instance_record(ann_id: int, image_id: int, category: str, mask: np.ndarray) -> Dict:
    """One COCO instance annotation.

    Args:
        ann_id (int): Annotation id (>= 1; COCOeval treats id 0 as "unmatched").
        image_id (int): Image id.
        category (str): Class name.
        mask (np.ndarray): [H, W] bool visible mask (non-empty).

    Returns:
        dict: ``id, image_id, category_id, segmentation (RLE), area, bbox (xywh), iscrowd``.
    """
    if ann_id < 1:
        raise ValueError(f'COCO annotation ids must be >= 1, got {ann_id}')
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    bbox = [float(v) for v in mask_utils.toBbox(rle)]
    return {
        'id': ann_id,
        'image_id': image_id,
        'category_id': CATEGORY_IDS[category],
        'segmentation': {
            'size': [int(v) for v in rle['size']],
            'counts': rle['counts'].decode('ascii')
        },
        'area': int(mask_utils.area(rle)),
        'bbox': bbox,
        'iscrowd': 0,
    }


def keypoint_record(instance: Dict, keypoints: np.ndarray, visibility: np.ndarray) -> Dict:
    """COCO person-keypoints annotation built on the person's instance annotation.

    The ``area`` is the box area, not the thin stick-figure mask area: OKS uses ``area`` as the
    object scale, and a stick figure's few limb pixels would make the scale of a 60-pixel-tall
    figure look like that of a 15-pixel blob.

    Args:
        instance (dict): The person's record from :func:`instance_record`.
        keypoints (np.ndarray): [K, 2] float keypoints.
        visibility (np.ndarray): [K] int COCO visibility flags (1 or 2).

    Returns:
        dict: The instance record plus ``keypoints`` (flat ``[x, y, v] * K``) and ``num_keypoints``.
    """
    flat: List[float] = []
    for (x, y), v in zip(keypoints, visibility):
        flat.extend([round(float(x), 2), round(float(y), 2), int(v)])
    record = dict(instance)
    record['keypoints'] = flat
    record['num_keypoints'] = int(np.count_nonzero(visibility))
    record['area'] = float(instance['bbox'][2] * instance['bbox'][3])
    return record


def instance_categories() -> List[Dict]:
    """COCO ``categories`` of the instance file."""
    return [{
        'id': CATEGORY_IDS[name],
        'name': name,
        'supercategory': 'person' if name == PERSON_CLASS else 'shape'
    } for name in CATEGORY_NAMES]


def keypoint_categories() -> List[Dict]:
    """COCO ``categories`` of the keypoint file (person, keypoint names, 1-based skeleton)."""
    index = {name: i + 1 for i, name in enumerate(KEYPOINT_NAMES)}
    return [{
        'id': CATEGORY_IDS[PERSON_CLASS],
        'name': PERSON_CLASS,
        'supercategory': 'person',
        'keypoints': list(KEYPOINT_NAMES),
        'skeleton': [[index[a], index[b]] for a, b in SKELETON],
    }]
