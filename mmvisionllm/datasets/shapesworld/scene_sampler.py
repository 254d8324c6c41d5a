"""Draw random ShapesWorld scene graphs from a numpy random generator.

A scene has 1-5 objects (shapes in named colours and sizes, sometimes one or two stick figures),
placed inside the image with some overlap; a placement is rejected when it would hide too much of
any object, so every object stays recognisable and keeps a meaningful mask. Everything is drawn
from the ``numpy.random.Generator`` passed in, so a seed fixes the scene.
"""
from typing import List

import numpy as np

from .geometry import object_extent_box
from .renderer import render_object_mask
from .scene_graph import Scene, SceneObject
from .world_spec import (COLOURS, PERSON_HEIGHT_RANGES, REFERENCE_IMG_SIZE, SHAPE_CLASSES,
                         SHAPE_RADIUS_RANGES, SIZE_NAMES)

__all__ = ['sample_scene', 'sample_object']

_NUM_OBJECTS = np.array([1, 2, 3, 4, 5])
_NUM_OBJECTS_PROB = np.array([0.2, 0.25, 0.2, 0.18, 0.17])
_PERSON_PROB = 0.4
_SECOND_PERSON_PROB = 0.2
_MIN_VISIBLE_FRACTION = 0.55
_MIN_VISIBLE_PIXELS = 12
_PLACEMENT_TRIES = 40


def sample_object(rng: np.random.Generator, category: str, img_size: int) -> SceneObject:
    """Draw colour, size, extent, rotation and pose of one object centred at the origin.

    Args:
        rng (np.random.Generator): Source of randomness.
        category (str): Class name.
        img_size (int): Image side, used to scale the pixel ranges of ``world_spec``.

    Returns:
        SceneObject: The object with ``center=(0, 0)`` (the caller places it).
    """
    scale = img_size / REFERENCE_IMG_SIZE
    colour = str(rng.choice(list(COLOURS)))
    size = str(rng.choice(SIZE_NAMES))
    if category == 'person':
        low, high = PERSON_HEIGHT_RANGES[size]
        pose = (rng.uniform(10, 170), rng.uniform(-60, 60), rng.uniform(10,
                                                                        170), rng.uniform(-60, 60),
                rng.uniform(5, 40), rng.uniform(-15, 25), rng.uniform(5, 40), rng.uniform(-15, 25))
        return SceneObject(category, colour, size, (0.0, 0.0),
                           float(rng.uniform(low, high) * scale), float(rng.uniform(-12, 12)),
                           tuple(round(float(a), 3) for a in pose))
    low, high = SHAPE_RADIUS_RANGES[size]
    angle = 0.0 if category == 'circle' else float(rng.uniform(-20, 20))
    return SceneObject(category, colour, size, (0.0, 0.0), float(rng.uniform(low, high) * scale),
                       angle)


def _visibility_ok(masks: List[np.ndarray], min_pixels: float) -> bool:
    """True if every object keeps enough of its pixels under the objects painted after it."""
    covered_later = np.zeros_like(masks[0])
    for mask in reversed(masks):
        total = int(mask.sum())
        visible = int((mask & ~covered_later).sum())
        if total == 0 or visible < min_pixels or visible < _MIN_VISIBLE_FRACTION * total:
            return False
        covered_later |= mask
    return True


def _place(rng: np.random.Generator, obj: SceneObject, img_size: int) -> SceneObject:
    """Move an origin-centred object to a random position where it lies fully inside the image."""
    x1, y1, x2, y2 = object_extent_box(obj)
    low_x, high_x = 1.0 - x1, img_size - 1.0 - x2
    low_y, high_y = 1.0 - y1, img_size - 1.0 - y2
    if low_x > high_x or low_y > high_y:
        raise ValueError(f'Object {obj} does not fit in a {img_size}px image')
    center = (round(float(rng.uniform(low_x, high_x)),
                    3), round(float(rng.uniform(low_y, high_y)), 3))
    return SceneObject(obj.category, obj.colour, obj.size, center, round(obj.extent, 3),
                       round(obj.angle, 3), obj.pose)


def sample_scene(rng: np.random.Generator, img_size: int) -> Scene:
    """Draw a random scene.

    Args:
        rng (np.random.Generator): Source of randomness (the only one used).
        img_size (int): Side of the square image in pixels.

    Returns:
        Scene: A scene with at least one object; objects whose placement keeps failing the
        visibility rule are left out, which only makes the scene smaller.
    """
    base = rng.integers(200, 246)
    tint = rng.integers(-10, 11, size=3)
    top = np.clip(base + tint, 185, 250)
    bottom = np.clip(top - rng.integers(0, 30), 170, 250)
    num_objects = int(rng.choice(_NUM_OBJECTS, p=_NUM_OBJECTS_PROB))
    num_persons = 0
    if rng.random() < _PERSON_PROB:
        num_persons = 1
        if num_objects >= 3 and rng.random() < _SECOND_PERSON_PROB:
            num_persons = 2
    categories = ['person'] * min(num_persons, num_objects)
    categories += [str(c) for c in rng.choice(SHAPE_CLASSES, size=num_objects - len(categories))]
    categories = [categories[i] for i in rng.permutation(len(categories))]

    min_pixels = _MIN_VISIBLE_PIXELS * (img_size / REFERENCE_IMG_SIZE)**2
    objects: List[SceneObject] = []
    masks: List[np.ndarray] = []
    for category in categories:
        template = sample_object(rng, category, img_size)
        for _ in range(_PLACEMENT_TRIES):
            candidate = _place(rng, template, img_size)
            mask = render_object_mask(candidate, img_size)
            if _visibility_ok(masks + [mask], min_pixels):
                objects.append(candidate)
                masks.append(mask)
                break
    if not objects:
        raise RuntimeError('sample_scene() could not place a single object; image too small?')
    return Scene(img_size, tuple(int(v) for v in top), tuple(int(v) for v in bottom),
                 tuple(objects))
