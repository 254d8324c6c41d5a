"""Captions of a ShapesWorld scene (COCO-caption style) and the fully specified text→image prompt.

Three captions per scene in different styles (attribute list, counts, left-to-right order); the
text→image caption names size, colour and class of each object and the relation between two, so a
generated image can be checked GenEval-style.
"""
from collections import Counter
from typing import List, Sequence

from .referring_expressions import noun_phrase
from .scene_facts import ObjectFacts
from .world_spec import NUMBER_WORDS, PLURAL_NAMES

__all__ = [
    'with_article', 'join_phrases', 'scene_captions', 'text_to_image_caption',
    'CAPTION_POSITION_WORDS'
]

#: Words placing a single object in the image.
CAPTION_POSITION_WORDS = ('on the left', 'in the middle', 'on the right')


def with_article(phrase: str) -> str:
    """Prefix ``'a'``/``'an'``."""
    return ('an ' if phrase[:1] in 'aeiou' else 'a ') + phrase


def join_phrases(phrases: Sequence[str]) -> str:
    """``['a', 'b', 'c']`` → ``'a, b and c'``."""
    if len(phrases) == 1:
        return phrases[0]
    return ', '.join(phrases[:-1]) + ' and ' + phrases[-1]


def _full(obj: ObjectFacts) -> str:
    return with_article(noun_phrase(obj, ('size', 'colour', 'category')))


def _grouped_full(objects: Sequence[ObjectFacts]) -> List[str]:
    """Full descriptions with identical ones merged ("two small yellow stars"), first-seen order."""
    counts = Counter((o.size, o.colour, o.category) for o in objects)
    phrases, seen = [], set()
    for obj in objects:
        key = (obj.size, obj.colour, obj.category)
        if key in seen:
            continue
        seen.add(key)
        if counts[key] == 1:
            phrases.append(_full(obj))
        else:
            phrases.append(f'{NUMBER_WORDS[counts[key]]} {obj.size} {obj.colour} '
                           f'{PLURAL_NAMES[obj.category]}')
    return phrases


def _count_phrase(category: str, count: int) -> str:
    if count == 1:
        return with_article(category)
    return f'{NUMBER_WORDS[count]} {PLURAL_NAMES[category]}'


def scene_captions(objects: Sequence[ObjectFacts], img_size: int) -> List[str]:
    """Three captions of a scene.

    Args:
        objects (Sequence[ObjectFacts]): The scene's objects.
        img_size (int): Image side (to place a lone object).

    Returns:
        list[str]: Attribute list, count summary and left-to-right description.
    """
    full = _grouped_full(objects)
    counts = Counter(o.category for o in objects)
    count_phrases = [_count_phrase(c, counts[c]) for c in sorted(counts)]
    by_x = sorted(objects, key=lambda o: (o.center[0], o.center[1]))
    captions = [
        f'{join_phrases(full)}.',
        f'a picture with {join_phrases(count_phrases)}.',
    ]
    if len(objects) == 1:
        third = min(int(3 * objects[0].center[0] / img_size), 2)
        captions.append(f'{_full(objects[0])} {CAPTION_POSITION_WORDS[third]} of the image.')
    else:
        captions.append(f'from left to right: {join_phrases([_full(o) for o in by_x])}.')
    return captions


def text_to_image_caption(objects: Sequence[ObjectFacts]) -> str:
    """Fully specified prompt for one or two objects.

    Args:
        objects (Sequence[ObjectFacts]): One or two objects.

    Returns:
        str: e.g. ``'a large red circle left of a small blue star'``.
    """
    if len(objects) == 1:
        return _full(objects[0])
    if len(objects) != 2:
        raise ValueError(f'text_to_image_caption() takes 1 or 2 objects, got {len(objects)}')
    first, second = objects
    dx = second.center[0] - first.center[0]
    dy = second.center[1] - first.center[1]
    if abs(dx) >= abs(dy):
        left, right = (first, second) if dx >= 0 else (second, first)
        return f'{_full(left)} left of {_full(right)}'
    top, bottom = (first, second) if dy >= 0 else (second, first)
    return f'{_full(top)} above {_full(bottom)}'
