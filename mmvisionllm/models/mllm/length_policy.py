"""What happens to a conversation longer than ``max_length`` tokens (the data preprocessor's rule).

Cutting the token sequence at ``max_length`` (what LLaVA does) could split an image's tile tokens or
separate a routing token from its queries, and raising stops a run in its middle. The rule here
shortens the *text* of the conversation instead, in this order, until it fits:

1. drop whole exchanges (question + answer) from the end, keeping the first one;
2. drop words from the end of the first question (its ``<image>``/``<region>`` placeholders stay),
   never from an answer: answers hold the routing tokens and what the decoders are trained on;
3. if the image tokens, the prompt layout and the first answer alone do not fit, the sample is
   refused with an error naming it and the lengths (raise ``max_length``, or give the tiling fewer
   tiles): nothing then could keep its image and its links.

Every shortened sample is reported (a warning naming the sample, its task and image id, and what
was dropped); the sample's ``conversation`` metainfo is replaced by the shortened one, so that
prediction and the decoders see the text the LLM saw.
"""
import copy
from typing import Callable, List, Sequence, Tuple

__all__ = ['fit_conversation']

PLACEHOLDERS = ('<image>', '<region>')


def _exchanges(conversation: Sequence[dict]) -> List[List[dict]]:
    """Split LLaVA turns into exchanges, each starting at a human turn."""
    groups: List[List[dict]] = []
    for turn in conversation:
        if turn.get('from') == 'human' or not groups:
            groups.append([])
        groups[-1].append(turn)
    return groups


def _shorten_question(conversation: List[dict], keep_words: int) -> List[dict]:
    conversation = copy.deepcopy(conversation)
    words = conversation[0]['value'].split(' ')
    kept, plain = [], 0
    for word in words:
        if any(p in word for p in PLACEHOLDERS):
            kept.append(word)
        elif plain < keep_words:
            kept.append(word)
            plain += 1
    conversation[0]['value'] = ' '.join(kept)
    return conversation


def fit_conversation(conversation: Sequence[dict], max_length: int, length: Callable[[list], int],
                     name: str) -> Tuple[List[dict], str]:
    """Shorten ``conversation`` until ``length(conversation) <= max_length`` (see module doc).

    Args:
        conversation (Sequence[dict]): LLaVA turns.
        max_length (int): The longest accepted token sequence.
        length (Callable): Conversation -> its number of tokens (images and queries included).
        name (str): How errors name the sample.

    Returns:
        tuple[list[dict], str]: The conversation that fits and what was dropped ('' if nothing).

    Raises:
        ValueError: If the first exchange does not fit even without the question's words.
    """
    conversation = list(conversation)
    total = length(conversation)
    if total <= max_length:
        return conversation, ''
    exchanges = _exchanges(conversation)
    kept = len(exchanges)
    while kept > 1 and length([t for g in exchanges[:kept] for t in g]) > max_length:
        kept -= 1
    conversation = [t for g in exchanges[:kept] for t in g]
    dropped = [f'{len(exchanges) - kept} of {len(exchanges)} exchanges'
               ] if kept < len(exchanges) else []
    if length(conversation) > max_length:
        num_words = sum(not any(p in w for p in PLACEHOLDERS)
                        for w in conversation[0]['value'].split(' '))
        low, high = 0, num_words  # the most words of the first question that still fit
        if length(_shorten_question(conversation, 0)) > max_length:
            raise ValueError(
                f'{name}: {total} tokens, more than max_length={max_length}, and its image '
                f'tokens, prompt and first answer alone take '
                f'{length(_shorten_question(conversation, 0))}: raise max_length or give the '
                'tiling fewer tiles')
        while low < high:
            middle = (low + high + 1) // 2
            if length(_shorten_question(conversation, middle)) <= max_length:
                low = middle
            else:
                high = middle - 1
        conversation = _shorten_question(conversation, low)
        dropped.append(f'{num_words - low} of {num_words} words of the first question')
    return conversation, ' and '.join(dropped)
