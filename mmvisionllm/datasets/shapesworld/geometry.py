"""Outline geometry of ShapesWorld objects: polygons of the shapes and joints of the stick figure.

Pure numpy; the renderer turns these outlines into pixels with OpenCV. Coordinates are continuous
(pixel ``i`` spans ``[i, i + 1)``), y points down.
"""
import math
from typing import Tuple

import numpy as np

from .scene_graph import SceneObject
from .world_spec import KEYPOINT_NAMES

__all__ = [
    'shape_polygon', 'figure_keypoints', 'figure_head_radius', 'figure_limb_thickness',
    'object_extent_box'
]

# Proportions of the stick figure, as fractions of its height.
_TORSO = 0.32
_NECK_TO_HEAD = 0.13
_HEAD_RADIUS = 0.085
_SHOULDER_HALF_WIDTH = 0.09
_SHOULDER_DROP = 0.03
_UPPER_ARM = 0.17
_FOREARM = 0.16
_THIGH = 0.23
_SHIN = 0.23
_HIP_BELOW_CENTER = 0.04


def _rotate(points: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate ``points`` [N, 2] clockwise (y down) by ``degrees`` around the origin."""
    theta = math.radians(degrees)
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    rotation = np.array([[cos_t, -sin_t], [sin_t, cos_t]])
    return points @ rotation.T


def shape_polygon(obj: SceneObject) -> np.ndarray:
    """Return the outline of a flat shape (not used for circles).

    Args:
        obj (SceneObject): A square, triangle, star or cross.

    Returns:
        np.ndarray: [N, 2] float64 vertices ``(x, y)`` in image coordinates.
    """
    r = obj.extent
    if obj.category == 'square':
        angles = np.deg2rad([45, 135, 225, 315])
        local = np.stack([np.cos(angles), np.sin(angles)], axis=1) * r
    elif obj.category == 'triangle':
        angles = np.deg2rad([-90, 30, 150])
        local = np.stack([np.cos(angles), np.sin(angles)], axis=1) * r
    elif obj.category == 'star':
        angles = np.deg2rad(-90 + 36 * np.arange(10))
        radii = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
        local = np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)
    elif obj.category == 'cross':
        w = 0.32 * r
        local = np.array([[-w, -r], [w, -r], [w, -w], [r, -w], [r, w], [w, w], [w, r], [-w, r],
                          [-w, w], [-r, w], [-r, -w], [-w, -w]])
    else:
        raise ValueError(f'shape_polygon() has no outline for category {obj.category!r}')
    return _rotate(local, obj.angle) + np.asarray(obj.center)


def _limb_direction(degrees: float, side: float) -> np.ndarray:
    """Unit vector ``degrees`` away from straight down towards ``side`` (+1 = image right)."""
    theta = math.radians(degrees)
    return np.array([side * math.sin(theta), math.cos(theta)])


def figure_keypoints(obj: SceneObject) -> np.ndarray:
    """Return the joints of a stick figure in ``KEYPOINT_NAMES`` order.

    The figure faces the viewer: its left limbs are on the image's right (+x) and each limb angle
    keeps the limb on its own side, so left and right can be told apart from the picture.

    Args:
        obj (SceneObject): A ``person`` object with an 8-value ``pose``.

    Returns:
        np.ndarray: [K, 2] float64 keypoints ``(x, y)`` in image coordinates, K = 13.
    """
    if obj.category != 'person' or len(obj.pose) != 8:
        raise ValueError(f'figure_keypoints() needs a person with 8 pose angles, got {obj}')
    h = obj.extent
    l_arm, l_bend, r_arm, r_bend, l_thigh, l_knee, r_thigh, r_knee = obj.pose
    joints = {}
    hip = np.zeros(2)
    neck = np.array([0.0, -_TORSO * h])
    joints['hip'] = hip
    joints['neck'] = neck
    joints['head'] = neck + np.array([0.0, -_NECK_TO_HEAD * h])
    for side_name, side, arm, bend, thigh, knee in (('left', 1.0, l_arm, l_bend, l_thigh, l_knee),
                                                    ('right', -1.0, r_arm, r_bend, r_thigh,
                                                     r_knee)):
        shoulder = neck + np.array([side * _SHOULDER_HALF_WIDTH * h, _SHOULDER_DROP * h])
        elbow = shoulder + _UPPER_ARM * h * _limb_direction(arm, side)
        forearm_angle = min(max(arm + bend, 5.0), 175.0)
        hand = elbow + _FOREARM * h * _limb_direction(forearm_angle, side)
        knee_point = hip + _THIGH * h * _limb_direction(thigh, side)
        shin_angle = min(max(thigh + knee, 0.0), 70.0)
        foot = knee_point + _SHIN * h * _limb_direction(shin_angle, side)
        joints[f'{side_name}_shoulder'] = shoulder
        joints[f'{side_name}_elbow'] = elbow
        joints[f'{side_name}_hand'] = hand
        joints[f'{side_name}_knee'] = knee_point
        joints[f'{side_name}_foot'] = foot
    local = np.stack([joints[name] for name in KEYPOINT_NAMES])
    origin = np.asarray(obj.center) + np.array([0.0, _HIP_BELOW_CENTER * h])
    return _rotate(local, obj.angle) + origin


def figure_head_radius(obj: SceneObject) -> float:
    """Radius in pixels of a stick figure's head disc."""
    return _HEAD_RADIUS * obj.extent


def figure_limb_thickness(obj: SceneObject) -> int:
    """Line thickness in pixels of a stick figure's limbs (at least 2 so limbs stay visible)."""
    return max(2, int(round(0.045 * obj.extent)))


def object_extent_box(obj: SceneObject) -> Tuple[float, float, float, float]:
    """Return a box ``(x1, y1, x2, y2)`` that contains every pixel the object can paint."""
    if obj.category == 'person':
        points = figure_keypoints(obj)
        margin = max(figure_head_radius(obj), figure_limb_thickness(obj) / 2.0) + 1.0
    elif obj.category == 'circle':
        points = np.asarray([obj.center])
        margin = obj.extent + 1.0
    else:
        points = shape_polygon(obj)
        margin = 1.0
    x1, y1 = points.min(axis=0) - margin
    x2, y2 = points.max(axis=0) + margin
    return float(x1), float(y1), float(x2), float(y2)
