"""Edits of a scene graph with their instruction ("make the star green", "remove the circle").

The edited scene is rendered again by the generator to give the target image, so source and target
differ exactly where the instruction says. The object to edit is named by a unique referring
expression.
"""
import random
from dataclasses import dataclass
from typing import Optional, Sequence

from .referring_expressions import choose_referring_expression
from .scene_facts import ObjectFacts
from .scene_graph import Scene
from .world_spec import COLOURS

__all__ = ['SceneEdit', 'RECOLOUR_INSTRUCTIONS', 'REMOVE_INSTRUCTIONS', 'sample_scene_edit']

#: Phrasings of a colour change.
RECOLOUR_INSTRUCTIONS = (
    'make {target} {colour}',
    'change the color of {target} to {colour}',
    'turn {target} {colour}',
    'paint {target} {colour}',
)
#: Phrasings of a removal.
REMOVE_INSTRUCTIONS = (
    'remove {target}',
    'delete {target}',
    'take away {target}',
    'erase {target}',
)


@dataclass(frozen=True)
class SceneEdit:
    """An instruction and the scene it produces.

    Attributes:
        instruction (str): Lower-case instruction without final punctuation.
        operation (str): ``'recolour'`` or ``'remove'``.
        object_index (int): Index of the edited object in the source scene.
        edited_scene (Scene): The scene after the edit.
    """

    instruction: str
    operation: str
    object_index: int
    edited_scene: Scene


def sample_scene_edit(scene: Scene, objects: Sequence[ObjectFacts], margin: float,
                      rng: random.Random) -> Optional[SceneEdit]:
    """Draw an edit of a uniquely describable object.

    Args:
        scene (Scene): Source scene.
        objects (Sequence[ObjectFacts]): Facts of the source scene's objects.
        margin (float): Spatial relation margin in pixels.
        rng (random.Random): Source of randomness.

    Returns:
        SceneEdit | None: None when no object can be singled out by an expression.
    """
    order = list(objects)
    rng.shuffle(order)
    for target in order:
        expression = choose_referring_expression(target, objects, margin, rng)
        if expression is None:
            continue
        if rng.random() < 0.6:
            colour = rng.choice([c for c in sorted(COLOURS) if c != target.colour])
            text = rng.choice(RECOLOUR_INSTRUCTIONS).format(target=expression, colour=colour)
            edited = scene.replace_object(target.index,
                                          scene.objects[target.index].with_colour(colour))
            return SceneEdit(text, 'recolour', target.index, edited)
        text = rng.choice(REMOVE_INSTRUCTIONS).format(target=expression)
        return SceneEdit(text, 'remove', target.index, scene.without_object(target.index))
    return None
