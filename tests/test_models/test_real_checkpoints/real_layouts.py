"""Tiny random checkpoints in the on-disk layouts of the real ones (``save_pretrained``).

* ``save_clip_l336``: openai/clip-vit-large-patch14-336's folder: a full ``CLIPModel`` (vision and
  text halves, ``config.json`` + ``model.safetensors``) and its ``preprocessor_config.json``
  (``CLIPImageProcessor``: crop size = tile size, mean/std), here 28 px tiles of 14 px patches.
* ``save_vicuna``: lmsys/vicuna-7b-v1.5's folder: a ``LlamaForCausalLM`` and a sentencepiece
  ``tokenizer.model`` with ``tokenizer_config.json`` (``LlamaTokenizer``) and no ``tokenizer.json``.
* ``save_qwen2``: Qwen/Qwen2-0.5B's folder: a ``Qwen2ForCausalLM`` with tied input/output embeddings
  and an embedding padded beyond the tokenizer, and Qwen2's byte-level BPE tokenizer
  (``vocab.json``, ``merges.txt``, ``tokenizer.json``, ``tokenizer_config.json``; no
  ``tokenizer.model``).
"""
import io
import json
import os
import os.path as osp
from typing import Sequence

import sentencepiece as spm
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel, LlamaConfig,
                          LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer)

CLIP_TILE = 28
CLIP_MEAN = (0.5, 0.45, 0.4)  # not OpenAI CLIP's: the test sees which statistics were used
CLIP_STD = (0.25, 0.26, 0.27)
QWEN2_PADDING = 24  # embedding rows beyond the tokenizer, as Qwen2's 151936 rows for 151646 tokens

TEXT = [
    'what colour is the circle', 'detect all objects in the image', 'a red square and a blue star',
    'where is the person', 'how many objects are there', 'there is one green triangle',
    'describe this region of the picture', 'find the yellow star on the left', 'yes', 'no'
]


def save_clip_l336(folder: str, seed: int = 0) -> str:
    """A tiny CLIPModel folder with its image processor (openai/clip-vit-large-patch14-336)."""
    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=64,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=16),
        vision_config=dict(
            image_size=CLIP_TILE,
            patch_size=14,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=2),
        projection_dim=16)
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessor(
        size={'shortest_edge': CLIP_TILE},
        crop_size={
            'height': CLIP_TILE,
            'width': CLIP_TILE
        },
        image_mean=list(CLIP_MEAN),
        image_std=list(CLIP_STD)).save_pretrained(folder)
    return folder


def _train_sentencepiece(path: str, text: Sequence[str]) -> None:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(text) * 20),
        model_writer=model,
        vocab_size=300,
        model_type='bpe',
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        byte_fallback=True,
        hard_vocab_limit=False,
        character_coverage=1.0,
        minloglevel=2)
    with open(path, 'wb') as f:
        f.write(model.getvalue())


def save_vicuna(folder: str, seed: int = 0) -> str:
    """A tiny LLaMA folder whose tokenizer is a sentencepiece ``tokenizer.model`` only."""
    os.makedirs(folder, exist_ok=True)
    _train_sentencepiece(osp.join(folder, 'tokenizer.model'), TEXT)
    with open(osp.join(folder, 'tokenizer_config.json'), 'w') as f:  # as lmsys ships it
        json.dump(
            dict(
                tokenizer_class='LlamaTokenizer',
                bos_token='<s>',
                eos_token='</s>',
                unk_token='<unk>',
                pad_token=None,
                add_bos_token=True,
                add_eos_token=False,
                legacy=False,
                model_max_length=4096), f)
    with open(osp.join(folder, 'special_tokens_map.json'), 'w') as f:
        json.dump(dict(bos_token='<s>', eos_token='</s>', unk_token='<unk>'), f)
    num_tokens = len(AutoTokenizer.from_pretrained(folder, local_files_only=True))
    torch.manual_seed(seed)
    LlamaForCausalLM(
        LlamaConfig(
            vocab_size=num_tokens,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=512,
            tie_word_embeddings=False)).save_pretrained(folder)
    assert not osp.exists(osp.join(folder, 'tokenizer.json'))
    return folder


def save_qwen2(folder: str, seed: int = 0) -> str:
    """A tiny tied Qwen2 folder with a byte-level BPE tokenizer and padded embedding rows."""
    os.makedirs(folder, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        TEXT,
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=['<|endoftext|>', '<|im_start|>', '<|im_end|>'],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bpe.model.save(folder)  # vocab.json, merges.txt
    tokenizer = Qwen2Tokenizer(
        osp.join(folder, 'vocab.json'),
        osp.join(folder, 'merges.txt'),
        eos_token='<|im_end|>',
        pad_token='<|endoftext|>',
        bos_token=None)
    tokenizer.add_special_tokens(
        {'additional_special_tokens': ['<|im_start|>', '<|im_end|>', '<|endoftext|>']})
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=len(tokenizer) + QWEN2_PADDING,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            tie_word_embeddings=True)).save_pretrained(folder)
    return folder
