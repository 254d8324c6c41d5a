"""What can be said about a rendered scene: per-object attributes, boxes and spatial relations.

The language generators (referring expressions, captions, VQA, regions, edits) read only these
facts, so every sentence is true of the pixels: relations use the centres of the visible boxes and
need a margin, so "left of" is never a coin flip between two almost aligned objects.
"""
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from .renderer import RenderedScene
from .scene_graph import Scene

__all__ = [
    'ObjectFacts', 'RELATIONS', 'collect_object_facts', 'relation_holds', 'opposite_relation',
    'relation_margin'
]

#: Spatial relation phrases between two objects.
RELATIONS: Tuple[str, ...] = ('left of', 'right of', 'above', 'below')
_OPPOSITES = {'left of': 'right of', 'right of': 'left of', 'above': 'below', 'below': 'above'}


@dataclass(frozen=True)
class ObjectFacts:
    """Language-relevant facts of one object.

    Attributes:
        index (int): Position of the object in the scene (painting order).
        category (str): Class name.
        colour (str): Colour name.
        size (str): ``'small'`` or ``'large'``.
        bbox (tuple[float, float, float, float]): COCO ``(x, y, w, h)`` of the visible mask.
    """

    index: int
    category: str
    colour: str
    size: str
    bbox: Tuple[float, float, float, float]

    @property
    def center(self) -> Tuple[float, float]:
        """Centre ``(x, y)`` of the visible box."""
        x, y, w, h = self.bbox
        return x + w / 2.0, y + h / 2.0

    def attribute(self, name: str) -> str:
        """Value of ``'category'``, ``'colour'`` or ``'size'``."""
        return getattr(self, name)


def mask_to_xywh(mask: np.ndarray) -> Tuple[float, float, float, float]:
    """Tight COCO box ``(x, y, w, h)`` of a non-empty bool mask [H, W] (pixel i spans [i, i+1))."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError('mask_to_xywh() got an empty mask')
    return (float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1),
            float(rows[-1] - rows[0] + 1))


def collect_object_facts(scene: Scene, rendered: RenderedScene) -> List[ObjectFacts]:
    """Facts of every object of a rendered scene, in scene order."""
    return [
        ObjectFacts(i, obj.category, obj.colour, obj.size, mask_to_xywh(mask))
        for i, (obj, mask) in enumerate(zip(scene.objects, rendered.visible_masks))
    ]


def relation_margin(img_size: int) -> float:
    """Minimum centre offset (pixels) for a spatial relation to count as true."""
    return 0.06 * img_size


def relation_holds(subject: ObjectFacts, landmark: ObjectFacts, relation: str,
                   margin: float) -> bool:
    """Whether ``subject`` is ``relation`` ``landmark`` by at least ``margin`` pixels.

    Args:
        subject (ObjectFacts): The object being located.
        landmark (ObjectFacts): The reference object.
        relation (str): One of ``RELATIONS``.
        margin (float): Required centre offset.

    Returns:
        bool: True if the relation clearly holds.
    """
    (sx, sy), (lx, ly) = subject.center, landmark.center
    if relation == 'left of':
        return sx + margin < lx
    if relation == 'right of':
        return sx > lx + margin
    if relation == 'above':
        return sy + margin < ly
    if relation == 'below':
        return sy > ly + margin
    raise ValueError(f'Unknown relation {relation!r}; expected one of {RELATIONS}')


def opposite_relation(relation: str) -> str:
    """``'left of'`` ↔ ``'right of'``, ``'above'`` ↔ ``'below'``."""
    return _OPPOSITES[relation]
