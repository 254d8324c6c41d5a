"""A tiny random-init BERT over the ShapesWorld words: the grounding specialist's text encoder.

Grounding DINO conditions on a pretrained ``bert-base-uncased``; no hub is reachable here, so the
embedded ShapesWorld specialist (configs/baselines/grounding_dino_tiny_shapesworld.py) uses a
small ``transformers.BertModel`` trained together with the detector. Its ``BertTokenizer``
(WordPiece, lower case) has BERT's five special tokens, the sub-sentence separators ``. ? ,`` and
every word of the ShapesWorld word-level tokenizer, so a ShapesWorld text never maps to ``[UNK]``.
Both are written with ``save_pretrained`` (plus the ``vocab.txt`` they are built from), so
``AutoTokenizer.from_pretrained(dir)`` / ``BertModel.from_pretrained(dir)`` load it offline, as they
would a downloaded bert-base-uncased folder.
"""
import os
import os.path as osp
from typing import List

import torch
from transformers import AutoTokenizer, BertConfig
from transformers import BertModel as HFBertModel
from transformers import BertTokenizer

from .local_checkpoint import check_local_checkpoint

__all__ = ['BERT_SPECIAL_TOKENS', 'text_encoder_vocabulary', 'build_tiny_text_encoder']

#: BERT's special tokens (ids 0-4) and the punctuation Grounding DINO splits phrases at.
BERT_SPECIAL_TOKENS = ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]')
SEPARATORS = ('.', '?', ',')


def text_encoder_vocabulary(word_tokenizer_dir: str) -> List[str]:
    """The WordPiece vocabulary: BERT's specials, ``. ? ,``, then the ShapesWorld words.

    Args:
        word_tokenizer_dir (str): The ShapesWorld word-level tokenizer (``<root>/tokenizer``).

    Returns:
        list[str]: Tokens in id order; the words keep the word-level tokenizer's order, without
        its special tokens (``<unk> <s> </s> <pad>``, ``<image>``, ``[DET]`` ...).
    """
    tokenizer = AutoTokenizer.from_pretrained(
        check_local_checkpoint(word_tokenizer_dir, '--tokenizer'), local_files_only=True)
    specials = set(tokenizer.all_special_tokens)
    vocab = list(BERT_SPECIAL_TOKENS + SEPARATORS)
    for word, _ in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]):
        bracketed = word[:1] + word[-1:] in ('<>', '[]')
        if word in specials or bracketed or word in vocab:
            continue
        if word != word.lower() or any(char.isspace() for char in word):
            raise ValueError(f'{word_tokenizer_dir}: word {word!r} is not a lower-case single '
                             'token; a lower-casing BERT tokenizer could not reproduce it')
        vocab.append(word)
    return vocab


def build_tiny_text_encoder(out_dir: str,
                            word_tokenizer_dir: str,
                            hidden_size: int = 128,
                            num_hidden_layers: int = 2,
                            num_attention_heads: int = 4,
                            intermediate_size: int = 256,
                            max_position_embeddings: int = 64,
                            seed: int = 0) -> str:
    """Write a random-init tiny BERT and its tokenizer to ``out_dir`` (``save_pretrained``).

    Args:
        out_dir (str): Output directory (created; existing files of the same names are replaced).
        word_tokenizer_dir (str): The ShapesWorld word-level tokenizer whose words make the vocab.
        hidden_size (int): BERT width. Defaults to 128.
        num_hidden_layers (int): Transformer layers. Defaults to 2.
        num_attention_heads (int): Attention heads. Defaults to 4.
        intermediate_size (int): FFN width. Defaults to 256.
        max_position_embeddings (int): Longest text in tokens. Defaults to 64.
        seed (int): Seed of the random initialisation (the same seed gives the same weights).

    Returns:
        str: ``out_dir``.
    """
    vocab = text_encoder_vocabulary(word_tokenizer_dir)
    os.makedirs(out_dir, exist_ok=True)
    vocab_file = osp.join(out_dir, 'vocab.txt')
    with open(vocab_file, 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    tokenizer = BertTokenizer(vocab=vocab_file, do_lower_case=True)
    tokenizer.model_max_length = max_position_embeddings
    tokenizer.save_pretrained(out_dir)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=vocab.index('[PAD]'))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = HFBertModel(config, add_pooling_layer=False)
    model.save_pretrained(out_dir)
    return out_dir
