"""Referring expressions with exactly one referent ("the small red circle left of the star").

An expression names some attributes of the target (class always last) and, optionally, a spatial
relation to a landmark that is itself described uniquely. A candidate is kept only if the target is
the one object in the scene it fits, which is what makes the grounding, VQA and editing texts
unambiguous.
"""
import random
from typing import List, Optional, Sequence, Tuple

from .scene_facts import RELATIONS, ObjectFacts, relation_holds

__all__ = [
    'ATTRIBUTE_SETS', 'noun_phrase', 'unique_attribute_sets', 'referring_expressions',
    'choose_referring_expression'
]

#: Attribute subsets tried for a description, from least to most specific (class last).
ATTRIBUTE_SETS: Tuple[Tuple[str, ...], ...] = (('category', ), ('colour', 'category'),
                                               ('size', 'category'), ('size', 'colour', 'category'))
_ATTRIBUTE_ORDER = ('size', 'colour', 'category')


def noun_phrase(obj: ObjectFacts,
                attributes: Sequence[str],
                head_noun: Optional[str] = None) -> str:
    """Words of ``attributes`` in natural order (size, colour, class), without an article.

    Args:
        obj (ObjectFacts): The object.
        attributes (Sequence[str]): Names among ``'size'``, ``'colour'``, ``'category'``.
        head_noun (str, optional): Noun used instead of the class (e.g. ``'object'``).

    Returns:
        str: e.g. ``'small red circle'``.
    """
    words = [obj.attribute(a) for a in _ATTRIBUTE_ORDER if a in attributes and a != 'category']
    words.append(head_noun if head_noun is not None else obj.category)
    return ' '.join(words)


def _matches(obj: ObjectFacts, target: ObjectFacts, attributes: Sequence[str]) -> bool:
    return all(obj.attribute(a) == target.attribute(a) for a in attributes)


def unique_attribute_sets(
        target: ObjectFacts,
        objects: Sequence[ObjectFacts],
        attribute_sets: Sequence[Tuple[str, ...]] = ATTRIBUTE_SETS) -> List[Tuple[str, ...]]:
    """Attribute subsets that single out ``target`` among ``objects``."""
    return [
        attrs for attrs in attribute_sets
        if all(o.index == target.index or not _matches(o, target, attrs) for o in objects)
    ]


def referring_expressions(target: ObjectFacts,
                          objects: Sequence[ObjectFacts],
                          margin: float,
                          attribute_sets: Sequence[Tuple[str, ...]] = ATTRIBUTE_SETS,
                          head_noun: Optional[str] = None) -> Tuple[List[str], List[str]]:
    """All unique expressions for ``target``.

    Args:
        target (ObjectFacts): The referent.
        objects (Sequence[ObjectFacts]): Every object of the scene (target included).
        margin (float): Spatial relation margin in pixels.
        attribute_sets (Sequence[tuple[str, ...]]): Allowed attribute subsets of the target.
        head_noun (str, optional): Noun replacing the class name of the target.

    Returns:
        tuple[list[str], list[str]]: Attribute-only expressions and expressions with a relation,
        each starting with ``'the '``.
    """
    plain = [
        f'the {noun_phrase(target, attrs, head_noun)}'
        for attrs in unique_attribute_sets(target, objects, attribute_sets)
    ]
    relational = []
    for landmark in objects:
        if landmark.index == target.index:
            continue
        landmark_sets = unique_attribute_sets(landmark, objects)
        if not landmark_sets:
            continue
        landmark_phrase = f'the {noun_phrase(landmark, landmark_sets[0])}'
        for relation in RELATIONS:
            if not relation_holds(target, landmark, relation, margin):
                continue
            for attrs in attribute_sets:
                fitting = [
                    o for o in objects if o.index != landmark.index and _matches(o, target, attrs)
                    and relation_holds(o, landmark, relation, margin)
                ]
                if len(fitting) == 1:
                    relational.append(
                        f'the {noun_phrase(target, attrs, head_noun)} {relation} {landmark_phrase}')
    return plain, relational


def choose_referring_expression(target: ObjectFacts,
                                objects: Sequence[ObjectFacts],
                                margin: float,
                                rng: random.Random,
                                relation_prob: float = 0.4,
                                attribute_sets: Sequence[Tuple[str, ...]] = ATTRIBUTE_SETS,
                                head_noun: Optional[str] = None) -> Optional[str]:
    """Pick one unique expression for ``target`` (a relational one with ``relation_prob``).

    Returns:
        str | None: The expression, or None if the target cannot be singled out.
    """
    plain, relational = referring_expressions(target, objects, margin, attribute_sets, head_noun)
    if relational and (not plain or rng.random() < relation_prob):
        return rng.choice(relational)
    if plain:
        return rng.choice(plain)
    return None
