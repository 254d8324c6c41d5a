"""The scene graph of a ShapesWorld image: what is where, before any pixel is drawn.

Plain dataclasses, so a scene can be edited (recoloured, an object removed) and rendered again for
the editing task. Coordinates are continuous COCO-style pixel coordinates (pixel ``i`` spans
``[i, i + 1)``).
"""
from dataclasses import dataclass, field, replace
from typing import List, Tuple

__all__ = ['SceneObject', 'Scene']


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene.

    Attributes:
        category (str): A class name of ``world_spec.CATEGORY_NAMES``.
        colour (str): A colour name of ``world_spec.COLOURS``.
        size (str): ``'small'`` or ``'large'``.
        center (tuple[float, float]): ``(x, y)`` anchor: the shape centre, or the middle of a stick
            figure's height.
        extent (float): Circumradius of a shape, or head-to-foot height of a stick figure (pixels).
        angle (float): Rotation of a shape, or the torso tilt of a figure (degrees, clockwise).
        pose (tuple[float, ...]): Limb angles of a figure in degrees, empty for shapes:
            ``(l_upper_arm, l_elbow_bend, r_upper_arm, r_elbow_bend, l_thigh, l_knee_bend, r_thigh,
            r_knee_bend)``; each limb angle is measured from "straight down" towards the figure's
            own side.
    """

    category: str
    colour: str
    size: str
    center: Tuple[float, float]
    extent: float
    angle: float = 0.0
    pose: Tuple[float, ...] = ()

    def with_colour(self, colour: str) -> 'SceneObject':
        """Return a copy with another colour (used by the editing task)."""
        return replace(self, colour=colour)


@dataclass(frozen=True)
class Scene:
    """A whole scene: background and objects in painting order (later objects occlude earlier ones).

    Attributes:
        img_size (int): Side of the square image in pixels.
        background_top (tuple[int, int, int]): RGB of the top row of the vertical background
            gradient.
        background_bottom (tuple[int, int, int]): RGB of the bottom row.
        objects (tuple[SceneObject, ...]): Objects in painting order.
    """

    img_size: int
    background_top: Tuple[int, int, int]
    background_bottom: Tuple[int, int, int]
    objects: Tuple[SceneObject, ...] = field(default_factory=tuple)

    def replace_object(self, index: int, new_object: SceneObject) -> 'Scene':
        """Return a copy where object ``index`` is ``new_object``."""
        objects = list(self.objects)
        objects[index] = new_object
        return replace(self, objects=tuple(objects))

    def without_object(self, index: int) -> 'Scene':
        """Return a copy without object ``index``."""
        objects: List[SceneObject] = [o for i, o in enumerate(self.objects) if i != index]
        return replace(self, objects=tuple(objects))
