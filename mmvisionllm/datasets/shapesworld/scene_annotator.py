"""Every text annotation of one scene, before ids and file formats are attached.

Collects, for a rendered scene: referring expressions, VQA items, captions, region questions,
the text→image caption (only for simple scenes: 1-2 shapes and no person, to keep generation
learnable) and an edit. The split writer turns these into the standard file formats.
"""
import random
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ..instruction_templates import REGION_QUESTIONS
from .captions import scene_captions, text_to_image_caption, with_article
from .referring_expressions import choose_referring_expression, noun_phrase
from .scene_edits import SceneEdit, sample_scene_edit
from .scene_facts import ObjectFacts, relation_margin
from .scene_graph import Scene
from .vqa_questions import VqaItem, scene_questions

__all__ = [
    'RegionQuestion', 'SceneAnnotations', 'annotate_scene', 'MAX_REGION_QUESTIONS',
    'MAX_T2I_OBJECTS'
]

#: Region questions per scene (at most).
MAX_REGION_QUESTIONS = 2
#: Largest number of objects of a scene used as a text→image pair.
MAX_T2I_OBJECTS = 2


@dataclass(frozen=True)
class RegionQuestion:
    """A question about one object given as a box or mask prompt.

    Attributes:
        object_index (int): The object asked about.
        prompt_type (str): ``'box'`` or ``'mask'``.
        question (str): Question containing one ``<region>``.
        answer (str): e.g. ``'a small red circle'``.
    """

    object_index: int
    prompt_type: str
    question: str
    answer: str


@dataclass
class SceneAnnotations:
    """All text annotations of one scene."""

    referring: List[Tuple[int, str]] = field(default_factory=list)
    vqa: List[VqaItem] = field(default_factory=list)
    captions: List[str] = field(default_factory=list)
    regions: List[RegionQuestion] = field(default_factory=list)
    t2i_caption: Optional[str] = None
    edit: Optional[SceneEdit] = None


def annotate_scene(scene: Scene, objects: List[ObjectFacts],
                   rng: random.Random) -> SceneAnnotations:
    """Write every text annotation of a scene.

    Args:
        scene (Scene): The scene graph.
        objects (list[ObjectFacts]): Facts of its rendered objects.
        rng (random.Random): Source of randomness.

    Returns:
        SceneAnnotations: The scene's texts; objects that cannot be singled out get no referring
        expression.
    """
    margin = relation_margin(scene.img_size)
    annotations = SceneAnnotations()
    for obj in objects:
        expression = choose_referring_expression(obj, objects, margin, rng)
        if expression is not None:
            annotations.referring.append((obj.index, expression))
    annotations.vqa = scene_questions(objects, margin, rng)
    annotations.captions = scene_captions(objects, scene.img_size)
    for obj in rng.sample(objects, min(MAX_REGION_QUESTIONS, len(objects))):
        annotations.regions.append(
            RegionQuestion(obj.index, rng.choice(('box', 'mask')), rng.choice(REGION_QUESTIONS),
                           with_article(noun_phrase(obj, ('size', 'colour', 'category')))))
    if len(objects) <= MAX_T2I_OBJECTS and all(o.category != 'person' for o in objects):
        annotations.t2i_caption = text_to_image_caption(objects)
    annotations.edit = sample_scene_edit(scene, objects, margin, rng)
    return annotations
