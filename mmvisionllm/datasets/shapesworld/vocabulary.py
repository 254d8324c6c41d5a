"""Word-level tokenizer of ShapesWorld, built from every text the benchmark can produce.

Reuses HuggingFace ``tokenizers`` (WordLevel model, lower-case normaliser, whitespace + punctuation
pre-tokeniser) and wraps it in ``transformers.PreTrainedTokenizerFast`` so the language-model code
loads it with ``AutoTokenizer.from_pretrained(path)`` like any real tokenizer. The vocabulary is the
closed ShapesWorld lexicon (all word lists and templates) plus every generated text, so no text of
any seed maps to ``<unk>``. The prompt placeholders ``<image>``/``<region>`` and the routing tokens
are added as special tokens so they stay single tokens (and are not lower-cased).
"""
from typing import Iterable, List

from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from ..instruction_templates import all_template_texts
from ..task_definitions import IMAGE_TOKEN, REGION_TOKEN, ROUTING_TOKENS
from .captions import CAPTION_POSITION_WORDS
from .scene_edits import RECOLOUR_INSTRUCTIONS, REMOVE_INSTRUCTIONS
from .scene_facts import RELATIONS
from .vqa_questions import VQA_QUESTION_TEXTS
from .world_spec import (CATEGORY_NAMES, COLOURS, KEYPOINT_NAMES, NUMBER_WORDS, PLURAL_NAMES,
                         SIZE_NAMES)

__all__ = [
    'BASE_SPECIAL_TOKENS', 'EXTRA_SPECIAL_TOKENS', 'shapesworld_lexicon',
    'build_word_level_tokenizer', 'save_tokenizer'
]

#: ``unk``, ``bos``, ``eos``, ``pad`` (ids 0-3 in this order).
BASE_SPECIAL_TOKENS = ('<unk>', '<s>', '</s>', '<pad>')
#: Prompt placeholders and routing tokens, kept whole.
EXTRA_SPECIAL_TOKENS = (IMAGE_TOKEN, REGION_TOKEN) + tuple(ROUTING_TOKENS.values())


def shapesworld_lexicon() -> List[str]:
    """Texts holding every word the generators and templates can emit (placeholders removed)."""
    texts = list(all_template_texts())
    texts += list(VQA_QUESTION_TEXTS) + list(CAPTION_POSITION_WORDS) + list(RELATIONS)
    for template in RECOLOUR_INSTRUCTIONS + REMOVE_INSTRUCTIONS:
        texts.append(template.replace('{target}', ' ').replace('{colour}', ' '))
    texts += ['a an the object objects of and , . : ? a picture with from left to right image']
    texts += list(CATEGORY_NAMES) + list(PLURAL_NAMES.values()) + list(COLOURS) + list(SIZE_NAMES)
    texts += list(KEYPOINT_NAMES) + list(NUMBER_WORDS) + [str(n) for n in range(21)]
    return texts


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])


def build_word_level_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """Build the tokenizer from ``texts`` plus the ShapesWorld lexicon.

    Args:
        texts (Iterable[str]): Annotation texts (questions, answers, captions, expressions ...).

    Returns:
        PreTrainedTokenizerFast: Word-level tokenizer; ids 0-3 are ``<unk> <s> </s> <pad>``, then
        the extra special tokens, then the words in sorted order (so the ids are reproducible).
    """
    normalizer = normalizers.Lowercase()
    pre_tokenizer = _pre_tokenizer()
    words = set()
    for text in list(texts) + shapesworld_lexicon():
        for text_part in _split_specials(text):
            normalised = normalizer.normalize_str(text_part)
            words.update(piece for piece, _ in pre_tokenizer.pre_tokenize_str(normalised))
    specials = BASE_SPECIAL_TOKENS + EXTRA_SPECIAL_TOKENS
    vocab = {token: i for i, token in enumerate(specials)}
    for word in sorted(words - set(specials)):
        vocab[word] = len(vocab)
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token='<unk>'))
    backend.normalizer = normalizer
    backend.pre_tokenizer = pre_tokenizer
    backend.add_special_tokens(
        [AddedToken(token, special=True, normalized=False) for token in specials])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token='<unk>',
        bos_token='<s>',
        eos_token='</s>',
        pad_token='<pad>',
        additional_special_tokens=list(EXTRA_SPECIAL_TOKENS))


def _split_specials(text: str) -> List[str]:
    """Remove the special tokens from a text so their pieces do not enter the word list."""
    for token in BASE_SPECIAL_TOKENS + EXTRA_SPECIAL_TOKENS:
        text = text.replace(token, ' ')
    return [text]


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, out_dir: str) -> None:
    """Save with ``save_pretrained`` (loadable offline with ``AutoTokenizer.from_pretrained``)."""
    tokenizer.save_pretrained(out_dir)
