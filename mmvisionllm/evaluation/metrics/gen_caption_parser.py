"""Caption → requested objects, in the ShapesWorld vocabulary (for the GenEval-style metrics).

Nothing here is reused: GenEval parses prompts with fixed templates; ShapesWorld captions are free
phrases over a tiny closed vocabulary, so a word-level scan suffices. The vocabulary (class names
and plurals, colour names, size words, number words) is read from
``mmvisionllm.datasets.shapesworld.world_spec`` unless a ``vocabulary`` dict overrides it.

Rules: the caption is split into lowercase words; colour, size, number and negation words are
collected until the next class name (singular or plural), which closes one object phrase.
``a``/``an`` /``one`` mean 1, number words and digits their value, a plural without a number means
"at least 2". ``no``/``without``/``not`` before a class name make the phrase an *absent* object.
Words outside the
vocabulary (instruction templates, relations such as "left of") are ignored.
"""
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

__all__ = ['ObjectSpec', 'ShapesVocabulary', 'parse_caption']

_NEGATIONS = ('no', 'without', 'not')
_ARTICLES = ('a', 'an')


@dataclass(frozen=True)
class ObjectSpec:
    """One requested object phrase.

    Attributes:
        category (str): Class name (singular).
        colour (str | None): Named colour, None if not stated.
        size (str | None): Size word, None if not stated.
        count (int): How many are requested (at least one).
    """

    category: str
    colour: Optional[str] = None
    size: Optional[str] = None
    count: int = 1


@dataclass(frozen=True)
class ShapesVocabulary:
    """The closed vocabulary of captions.

    Attributes:
        classes (tuple[str, ...]): Class names in detector label order.
        plurals (dict[str, str]): Plural → singular class name.
        colours (dict[str, tuple[int, int, int]]): Colour name → RGB.
        sizes (tuple[str, ...]): Size words.
        numbers (dict[str, int]): Number word → value.
    """

    classes: Tuple[str, ...]
    plurals: Dict[str, str]
    colours: Dict[str, Tuple[int, int, int]]
    sizes: Tuple[str, ...]
    numbers: Dict[str, int]

    @classmethod
    def from_config(cls, cfg: Optional[dict] = None) -> 'ShapesVocabulary':
        """Build from ``world_spec``, with keys of ``cfg`` (``classes``, ``plurals`` (singular →
        plural, as in world_spec), ``colours``, ``sizes``, ``number_words``) overriding it."""
        from mmvisionllm.datasets.shapesworld import world_spec as spec
        cfg = dict(cfg or {})
        classes = tuple(cfg.get('classes', spec.CATEGORY_NAMES))
        plural_of = dict(cfg.get('plurals', spec.PLURAL_NAMES))
        colours = {
            k: tuple(int(c) for c in v)
            for k, v in dict(cfg.get('colours', spec.COLOURS)).items()
        }
        numbers = {w: i for i, w in enumerate(cfg.get('number_words', spec.NUMBER_WORDS))}
        return cls(
            classes=classes,
            plurals={plural_of.get(c, c + 's'): c
                     for c in classes},
            colours=colours,
            sizes=tuple(cfg.get('sizes', spec.SIZE_NAMES)),
            numbers=numbers)


def parse_caption(caption: str,
                  vocabulary: ShapesVocabulary) -> Tuple[List[ObjectSpec], List[ObjectSpec]]:
    """Find the requested and the excluded objects of a caption.

    Args:
        caption (str): e.g. ``"draw two red circles and a large star, no squares"``.
        vocabulary (ShapesVocabulary): The closed vocabulary.

    Returns:
        tuple[list[ObjectSpec], list[ObjectSpec]]: ``(present, absent)``; for the example,
        present = [circle/red ×2, star/large ×1], absent = [square].
    """
    present: List[ObjectSpec] = []
    absent: List[ObjectSpec] = []
    colour = size = None
    count: Optional[int] = None
    negated = False
    for word in re.findall(r'[a-z]+|\d+', caption.lower()):
        category, plural = _class_of(word, vocabulary)
        if category is not None:
            if count is None:
                count = 2 if plural else 1
            spec = ObjectSpec(category, colour, size, max(int(count), 1))
            (absent if negated or count == 0 else present).append(spec)
            colour = size = count = None
            negated = False
        elif word in vocabulary.colours:
            colour = word
        elif word in vocabulary.sizes:
            size = word
        elif word in _NEGATIONS:
            negated = True
        elif word in _ARTICLES:
            count = 1
        elif word in vocabulary.numbers:
            count = vocabulary.numbers[word]
        elif word.isdigit():
            count = int(word)
    return present, absent


def _class_of(word: str, vocabulary: ShapesVocabulary) -> Tuple[Optional[str], bool]:
    """(singular class name, is plural) of a word, or (None, False)."""
    if word in vocabulary.classes:
        return word, False
    if word in vocabulary.plurals:
        return vocabulary.plurals[word], True
    return None, False
