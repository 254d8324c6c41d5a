"""Builders shared by the VisionLLMv2 tests: word-level tokenizer, tiny model configs, samples."""
import copy
import os.path as osp
from typing import List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'visionllmv2_tiny.py')

WORDS = (
    'what colour color is the a an of circle square triangle star person red green blue yellow '
    'detect find all objects object in image picture where how many are there there\'s one two '
    'three four zero no yes head hand foot pose keypoints locate describe , . ? : left right '
    'small big large this region with and').split()


def save_word_tokenizer(directory: str, words: Sequence[str] = WORDS) -> str:
    """Save a word-level ``PreTrainedTokenizerFast`` (``<unk> <s> </s> <pad>`` first)."""
    vocab = {tok: i for i, tok in enumerate(['<unk>', '<s>', '</s>', '<pad>'])}
    for word in words:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab, unk_token='<unk>'))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(),
         pre_tokenizers.Punctuation()])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token='<unk>',
        bos_token='<s>',
        eos_token='</s>',
        pad_token='<pad>')
    tokenizer.save_pretrained(directory)
    return directory


def tiny_model_cfg(tokenizer_dir: str,
                   decoders: Optional[dict] = None,
                   small: bool = True,
                   **overrides) -> dict:
    """The shipped tiny config (``configs/_base_/models/visionllmv2_tiny.py``) pointed at
    ``tokenizer_dir``; ``small`` shrinks it further for fast unit tests."""
    cfg = copy.deepcopy(Config.fromfile(TINY_CONFIG).model.to_dict())
    cfg['llm']['tokenizer_path'] = tokenizer_dir
    if small:
        cfg['vision_encoder']['config'].update(
            image_size=32, hidden_size=32, intermediate_size=64, num_attention_heads=2)
        cfg['llm']['config'].update(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4)
        cfg['region_encoder'].update(stem_channels=16, num_points=8)
    cfg['decoders'] = decoders or {}
    cfg.update(overrides)
    return cfg


def build_model(cfg: dict):
    """Build a VisionLLMv2 from a config dict."""
    return MODELS.build(copy.deepcopy(cfg))


def turn(role: str, value: str) -> dict:
    """A LLaVA turn."""
    return {'from': role, 'value': value}


def make_sample(task: str,
                question: str,
                answer: Optional[str],
                target_names: Sequence[str] = (),
                boxes: Optional[List[List[float]]] = None,
                labels: Optional[List[int]] = None,
                keypoints=None,
                regions=(),
                size: int = 48) -> MMDataSample:
    """An MMDataSample with a one-exchange conversation (``answer=None``: no gpt turn)."""
    conversation = [turn('human', question)] + ([] if answer is None else [turn('gpt', answer)])
    sample = MMDataSample(
        metainfo=dict(
            task=task,
            conversation=conversation,
            target_names=list(target_names),
            regions=list(regions),
            ori_shape=(size, size),
            img_shape=(size, size),
            img_id=0))
    gt = InstanceData()
    gt.bboxes = torch.tensor(boxes or [], dtype=torch.float32).reshape(-1, 4)
    gt.labels = torch.tensor(labels or [], dtype=torch.long)
    if keypoints is not None:
        gt.keypoints = torch.as_tensor(keypoints, dtype=torch.float32)
    sample.gt_instances = gt
    return sample


def circle_square_det_sample() -> MMDataSample:
    """A detection sample asking for a circle and a square (two boxes)."""
    return make_sample(
        'det',
        '<image>\ndetect all objects .',
        'circle [DET] , square [DET]', ['circle', 'square'],
        boxes=[[4, 4, 20, 20], [24, 30, 44, 46]],
        labels=[0, 1])


def random_inputs(num_samples: int,
                  tile_size: int = 32,
                  num_tiles: int = 2,
                  size: int = 48,
                  with_image: bool = True,
                  seed: int = 0) -> dict:
    """Packed ``inputs`` of ``num_samples`` random images (``clip`` tiles and decoder views)."""
    generator = torch.Generator().manual_seed(seed)
    clip, image = [], []
    for _ in range(num_samples):
        if with_image:
            clip.append(
                torch.randint(
                    0,
                    256, (num_tiles, 3, tile_size, tile_size),
                    dtype=torch.uint8,
                    generator=generator))
            image.append(
                torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=generator))
        else:
            clip.append(None)
            image.append(None)
    return dict(clip=clip, image=image)
