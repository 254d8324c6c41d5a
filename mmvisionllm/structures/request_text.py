"""The text a sample asks for (a caption, an edit instruction), read the same way by the image
decoders' text-alignment loss and the GenEval-style metrics."""
from typing import Mapping

__all__ = ['caption_of']


def caption_of(sample: Mapping, caption_key: str = 'caption') -> str:
    """The request text of a sample: metainfo ``caption_key``, else its first human turn.

    Args:
        sample (Mapping): A sample's metainfo (or the dict a metric receives).
        caption_key (str): Key of the caption. Defaults to ``'caption'``.

    Returns:
        str: The text, ``''`` when the sample has neither.
    """
    caption = sample.get(caption_key)
    if caption:
        return str(caption)
    for turn in sample.get('conversation', None) or []:
        if turn.get('from') == 'human':
            return str(turn.get('value', '')).replace('<image>', ' ')
    return ''
