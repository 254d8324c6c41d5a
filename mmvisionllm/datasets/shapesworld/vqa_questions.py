"""VQA questions about a ShapesWorld scene: count, colour, shape, existence and spatial relation.

Each question comes with its single true answer and the VQAv2 ``question_type``/``answer_type``;
the annotation writer repeats the answer ten times as VQAv2 does. Yes/no questions are balanced by
drawing a true or a false statement with equal probability.
"""
import random
from dataclasses import dataclass
from typing import List, Optional, Sequence

from .referring_expressions import ATTRIBUTE_SETS, referring_expressions
from .scene_facts import RELATIONS, ObjectFacts, opposite_relation, relation_holds
from .world_spec import CATEGORY_NAMES, COLOURS, PLURAL_NAMES, SHAPE_CLASSES

__all__ = ['VqaItem', 'scene_questions', 'VQA_QUESTION_TEXTS']

#: Fixed words of the question patterns (for the vocabulary).
VQA_QUESTION_TEXTS = ('how many objects are there?', 'how many are there?', 'what color is?',
                      'what shape is the object?', 'is there a?', 'is the?', 'yes', 'no')


@dataclass(frozen=True)
class VqaItem:
    """One question with its answer.

    Attributes:
        question (str): The question.
        answer (str): The single correct answer (lower case; digits for counts).
        question_type (str): VQAv2-style question prefix, e.g. ``'how many'``.
        answer_type (str): ``'number'``, ``'yes/no'`` or ``'other'``.
    """

    question: str
    answer: str
    question_type: str
    answer_type: str


def _count_question(objects: Sequence[ObjectFacts], rng: random.Random) -> VqaItem:
    kind = rng.choice(('category', 'colour', 'all'))
    if kind == 'category':
        category = rng.choice(CATEGORY_NAMES)
        count = sum(o.category == category for o in objects)
        return VqaItem(f'how many {PLURAL_NAMES[category]} are there?', str(count), 'how many',
                       'number')
    if kind == 'colour':
        colour = rng.choice(sorted(COLOURS))
        count = sum(o.colour == colour for o in objects)
        return VqaItem(f'how many {colour} objects are there?', str(count), 'how many', 'number')
    return VqaItem('how many objects are there?', str(len(objects)), 'how many', 'number')


def _existence_question(objects: Sequence[ObjectFacts], rng: random.Random) -> VqaItem:
    present = sorted({(o.colour, o.category) for o in objects})
    absent = [(c, k) for c in sorted(COLOURS) for k in CATEGORY_NAMES if (c, k) not in present]
    if rng.random() < 0.5 or not absent:
        colour, category = rng.choice(present)
        answer = 'yes'
    else:
        colour, category = rng.choice(absent)
        answer = 'no'
    return VqaItem(f'is there a {colour} {category}?', answer, 'is there a', 'yes/no')


def _colour_question(objects: Sequence[ObjectFacts], margin: float,
                     rng: random.Random) -> Optional[VqaItem]:
    no_colour = tuple(a for a in ATTRIBUTE_SETS if 'colour' not in a)
    target = rng.choice(list(objects))
    plain, relational = referring_expressions(target, objects, margin, no_colour)
    options = plain + relational
    if not options:
        return None
    return VqaItem(f'what color is {rng.choice(options)}?', target.colour, 'what color is the',
                   'other')


def _shape_question(objects: Sequence[ObjectFacts], margin: float,
                    rng: random.Random) -> Optional[VqaItem]:
    shapes = [o for o in objects if o.category in SHAPE_CLASSES]
    if not shapes:
        return None
    target = rng.choice(shapes)
    no_class = (('colour', ), ('size', ), ('size', 'colour'))
    # The class is what is asked, so uniqueness is checked with the class hidden.
    hidden = [ObjectFacts(o.index, 'object', o.colour, o.size, o.bbox) for o in objects]
    hidden_target = hidden[objects.index(target)]
    plain, _ = referring_expressions(hidden_target, hidden, margin,
                                     tuple(a + ('category', ) for a in no_class))
    if not plain:
        return None
    return VqaItem(f'what shape is {rng.choice(plain)}?', target.category, 'what shape is the',
                   'other')


def _relation_question(objects: Sequence[ObjectFacts], margin: float,
                       rng: random.Random) -> Optional[VqaItem]:
    if len(objects) < 2:
        return None
    first, second = rng.sample(list(objects), 2)
    first_ref, _ = referring_expressions(first, objects, margin)
    second_ref, _ = referring_expressions(second, objects, margin)
    true_relations = [r for r in RELATIONS if relation_holds(first, second, r, margin)]
    if not first_ref or not second_ref or not true_relations:
        return None
    relation = rng.choice(true_relations)
    answer = 'yes'
    if rng.random() < 0.5:
        relation, answer = opposite_relation(relation), 'no'
    question = f'is {first_ref[0]} {relation} {second_ref[0]}?'
    return VqaItem(question, answer, 'is the', 'yes/no')


def scene_questions(objects: Sequence[ObjectFacts], margin: float,
                    rng: random.Random) -> List[VqaItem]:
    """Up to five questions about a scene (one per type, skipping types without a unique referent).

    Args:
        objects (Sequence[ObjectFacts]): The scene's objects.
        margin (float): Spatial relation margin in pixels.
        rng (random.Random): Source of randomness.

    Returns:
        list[VqaItem]: Questions in a fixed type order: count, existence, colour, shape, relation.
    """
    objects = list(objects)
    items: List[Optional[VqaItem]] = [
        _count_question(objects, rng),
        _existence_question(objects, rng),
        _colour_question(objects, margin, rng),
        _shape_question(objects, margin, rng),
        _relation_question(objects, margin, rng),
    ]
    return [item for item in items if item is not None]
