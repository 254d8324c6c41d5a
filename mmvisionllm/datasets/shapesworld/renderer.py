"""Rasterise a ShapesWorld scene graph into an RGB image, instance masks and keypoint visibility.

OpenCV's fill/line/circle primitives draw each object into its own binary mask (no anti-aliasing,
so masks, boxes and pixels agree exactly); painting the masks in order gives the image and, by
subtracting the masks of later objects, each object's visible mask (occlusion). Sub-pixel positions
use OpenCV's fixed-point ``shift`` argument.
"""
from dataclasses import dataclass
from typing import List, Optional

import cv2
import numpy as np

from .geometry import figure_head_radius, figure_keypoints, figure_limb_thickness, shape_polygon
from .scene_graph import Scene, SceneObject
from .world_spec import COLOURS, KEYPOINT_NAMES, SKELETON

__all__ = ['RenderedScene', 'render_object_mask', 'render_scene']

_SHIFT_BITS = 4
_SHIFT_SCALE = 1 << _SHIFT_BITS
_KEYPOINT_INDEX = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


@dataclass
class RenderedScene:
    """The pixels of a scene and what each object looks like in them.

    Attributes:
        image (np.ndarray): [S, S, 3] uint8 RGB image.
        full_masks (list[np.ndarray]): Per object, [S, S] bool mask of the whole (amodal) object.
        visible_masks (list[np.ndarray]): Per object, [S, S] bool mask of its unoccluded pixels.
        keypoints (list[np.ndarray | None]): Per object, [K, 2] float keypoints of a figure,
            else None.
        keypoint_visibility (list[np.ndarray | None]): Per object, [K] int COCO visibility
            flags of a figure (2 = visible, 1 = labelled but occluded), else None.
    """

    image: np.ndarray
    full_masks: List[np.ndarray]
    visible_masks: List[np.ndarray]
    keypoints: List[Optional[np.ndarray]]
    keypoint_visibility: List[Optional[np.ndarray]]


def _to_fixed_point(points: np.ndarray) -> np.ndarray:
    """Continuous coordinates [N, 2] → OpenCV fixed-point pixel-centre coordinates (int32)."""
    return np.round((np.asarray(points, dtype=np.float64) - 0.5) * _SHIFT_SCALE).astype(np.int32)


def render_object_mask(obj: SceneObject, img_size: int) -> np.ndarray:
    """Draw one object alone.

    Args:
        obj (SceneObject): The object.
        img_size (int): Side of the square canvas.

    Returns:
        np.ndarray: [img_size, img_size] bool mask of the object's pixels.
    """
    canvas = np.zeros((img_size, img_size), dtype=np.uint8)
    if obj.category == 'circle':
        center = tuple(int(v) for v in _to_fixed_point(np.asarray([obj.center]))[0])
        cv2.circle(canvas, center, int(round(obj.extent * _SHIFT_SCALE)), 1, -1, cv2.LINE_8,
                   _SHIFT_BITS)
    elif obj.category == 'person':
        joints = _to_fixed_point(figure_keypoints(obj))
        thickness = figure_limb_thickness(obj)
        for start, end in SKELETON:
            p1 = tuple(int(v) for v in joints[_KEYPOINT_INDEX[start]])
            p2 = tuple(int(v) for v in joints[_KEYPOINT_INDEX[end]])
            cv2.line(canvas, p1, p2, 1, thickness, cv2.LINE_8, _SHIFT_BITS)
        head = tuple(int(v) for v in joints[_KEYPOINT_INDEX['head']])
        cv2.circle(canvas, head, int(round(figure_head_radius(obj) * _SHIFT_SCALE)), 1, -1,
                   cv2.LINE_8, _SHIFT_BITS)
    else:
        polygon = _to_fixed_point(shape_polygon(obj))
        cv2.fillPoly(canvas, [polygon], 1, cv2.LINE_8, _SHIFT_BITS)
    return canvas.astype(bool)


def _background(scene: Scene) -> np.ndarray:
    """Vertical gradient between the scene's two background colours, [S, S, 3] uint8."""
    top = np.asarray(scene.background_top, dtype=np.float32)
    bottom = np.asarray(scene.background_bottom, dtype=np.float32)
    weights = np.linspace(0.0, 1.0, scene.img_size, dtype=np.float32)[:, None]
    rows = np.round(top[None] * (1.0 - weights) + bottom[None] * weights).astype(np.uint8)
    return np.repeat(rows[:, None, :], scene.img_size, axis=1)


def _keypoint_visibility(keypoints: np.ndarray, visible_mask: np.ndarray) -> np.ndarray:
    """COCO flags for keypoints [K, 2]: 2 where the keypoint's pixel is visible, else 1."""
    size = visible_mask.shape[0]
    cols = np.clip(np.floor(keypoints[:, 0]).astype(int), 0, size - 1)
    rows = np.clip(np.floor(keypoints[:, 1]).astype(int), 0, size - 1)
    return np.where(visible_mask[rows, cols], 2, 1).astype(np.int64)


def render_scene(scene: Scene) -> RenderedScene:
    """Render a scene.

    Args:
        scene (Scene): The scene graph.

    Returns:
        RenderedScene: Image, masks and keypoint visibility of every object (in scene order).
    """
    image = _background(scene)
    full_masks = [render_object_mask(obj, scene.img_size) for obj in scene.objects]
    for obj, mask in zip(scene.objects, full_masks):
        image[mask] = COLOURS[obj.colour]
    visible_masks = []
    covered_later = np.zeros((scene.img_size, scene.img_size), dtype=bool)
    for mask in reversed(full_masks):
        visible_masks.append(mask & ~covered_later)
        covered_later |= mask
    visible_masks.reverse()
    keypoints: List[Optional[np.ndarray]] = []
    visibility: List[Optional[np.ndarray]] = []
    for obj, visible in zip(scene.objects, visible_masks):
        if obj.category == 'person':
            joints = figure_keypoints(obj)
            keypoints.append(joints)
            visibility.append(_keypoint_visibility(joints, visible))
        else:
            keypoints.append(None)
            visibility.append(None)
    return RenderedScene(image, full_masks, visible_masks, keypoints, visibility)
