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
* ``save_stable_diffusion``: runwayml/stable-diffusion-v1-5's folder (``unet``, ``vae``,
  ``scheduler`` with SD's PNDM config, ``text_encoder``, ``tokenizer`` a CLIP BPE one); ``width``
  sets the cross-attention width (1024 = SD 2.x), ``unet_in_channels=8`` InstructPix2Pix's layout.
"""
import io
import json
import os
import os.path as osp
from typing import Sequence

import sentencepiece as spm
import torch
from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTextConfig,
                          CLIPTextModel, CLIPTokenizer, LlamaConfig, LlamaForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM, Qwen2Tokenizer)

CLIP_TILE = 28
CLIP_MEAN = (0.5, 0.45, 0.4)  # not OpenAI CLIP's: the test sees which statistics were used
CLIP_STD = (0.25, 0.26, 0.27)
QWEN2_PADDING = 24  # embedding rows beyond the tokenizer, as Qwen2's 151936 for 151646 tokens
TINY_LLM = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=512)

SD_WORDS = ('draw', 'a', 'large', 'small', 'red', 'blue', 'circle', 'star', 'make', 'the', 'green')
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
        size={
            'shortest_edge': CLIP_TILE
        },
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
            vocab_size=num_tokens, num_key_value_heads=4, tie_word_embeddings=False,
            **TINY_LLM)).save_pretrained(folder)
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
            num_key_value_heads=2,
            tie_word_embeddings=True,
            **TINY_LLM)).save_pretrained(folder)
    return folder


def _write_clip_tokenizer(folder: str, words: Sequence[str]) -> None:
    """A CLIP BPE tokenizer whose merges spell every word of ``words`` as one token."""
    vocab, merges = {}, []

    def add(token):
        vocab.setdefault(token, len(vocab))

    for special in ('<|startoftext|>', '<|endoftext|>'):
        add(special)
    for ch in sorted(set(''.join(words))):
        add(ch)
        add(ch + '</w>')
    for word in words:
        parts = list(word[:-1]) + [word[-1] + '</w>']
        while len(parts) > 1:
            merges.append(f'{parts[0]} {parts[1]}')
            parts = [parts[0] + parts[1]] + parts[2:]
            add(parts[0])
    raw = osp.join(folder, 'raw')
    os.makedirs(raw, exist_ok=True)
    with open(osp.join(raw, 'vocab.json'), 'w') as f:
        json.dump(vocab, f)
    with open(osp.join(raw, 'merges.txt'), 'w') as f:
        f.write('#version: 0.2\n' + '\n'.join(dict.fromkeys(merges)) + '\n')
    tok = CLIPTokenizer(osp.join(raw, 'vocab.json'), osp.join(raw, 'merges.txt'))
    tok.save_pretrained(osp.join(folder, 'tokenizer'))


def save_stable_diffusion(root: str,
                          width: int = 32,
                          unet_in_channels: int = 4,
                          words: Sequence[str] = SD_WORDS) -> str:
    """Tiny SD parts in SD's folder layout; ``width`` = the UNet's cross-attention width, 8 UNet
    input channels = InstructPix2Pix's layout (timbrooks/instruct-pix2pix)."""
    torch.manual_seed(0)
    UNet2DConditionModel(
        sample_size=16,
        in_channels=unet_in_channels,
        out_channels=4,
        block_out_channels=(16, 32),
        down_block_types=('CrossAttnDownBlock2D', 'DownBlock2D'),
        up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D'),
        layers_per_block=1,
        norm_num_groups=8,
        attention_head_dim=8,
        cross_attention_dim=width).save_pretrained(osp.join(root, 'unet'))
    AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(16, 32),
        down_block_types=('DownEncoderBlock2D', ) * 2,
        up_block_types=('UpDecoderBlock2D', ) * 2,
        norm_num_groups=8,
        sample_size=32).save_pretrained(osp.join(root, 'vae'))
    PNDMScheduler(  # what SD 1.5 ships in scheduler/
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule='scaled_linear',
        skip_prk_steps=True).save_pretrained(osp.join(root, 'scheduler'))
    _write_clip_tokenizer(root, words)
    vocab_size = len(CLIPTokenizer.from_pretrained(osp.join(root, 'tokenizer')))
    CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=width,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1)).save_pretrained(osp.join(root, 'text_encoder'))
    return root
