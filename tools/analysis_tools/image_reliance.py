"""How much a VisionLLMv2 checkpoint's text answers depend on the image.

Usage::

    python tools/analysis_tools/image_reliance.py CONFIG CHECKPOINT [--tasks vqa caption]
        [--num-samples 32] [--out reliance.json] [--cfg-options ...]

For a batch of test samples of each task (the config's test set) it feeds the conversations
teacher-forced twice: with each sample's own image and with the next sample's image (a fixed
derangement), and prints

* ``answer_prob_change``: the mean total-variation distance between the two next-token
  distributions at the answer tokens (0: the answers ignore the image; at most 1);
* ``answer_top1_agreement``: how often the most likely answer token stays the same;
* ``image_token_norm`` / ``text_token_norm``: mean norms of the projected image tokens and of the
  text embeddings the LLM reads beside them;
* ``image_token_spread``: the image tokens' standard deviation across images (per position) as a
  share of their norm — how much of what the LLM receives from the vision side changes with the
  image at all.

A model whose answers are image-blind scores the image-blind chance levels of the demo table
however long it trains; these figures say why before a metric does (docs/en/training_recipe.md).
Reused: the model's own data preprocessor, ``encode_images`` and teacher-forced LLM pass.
"""
import argparse
import json
from typing import Dict, List, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate

from mmvisionllm.apis import VisionLLMInferencer
from mmvisionllm.registry import DATASETS
from mmvisionllm.utils import register_all_modules


def parse_args():
    parser = argparse.ArgumentParser(description='Measure how much text answers use the image')
    parser.add_argument('config', help='model config (its test set supplies the samples)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--tasks',
        nargs='+',
        default=['vqa', 'caption'],
        help='test tasks with text answers and an image')
    parser.add_argument('--num-samples', type=int, default=32, help='samples per task (>= 2)')
    parser.add_argument('--out', help='write the figures to this json file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override settings of the config')
    return parser.parse_args()


@torch.no_grad()
def image_reliance(model, samples: Sequence[dict]) -> Dict[str, float]:
    """Image-reliance figures of one batch (see the module docstring).

    Args:
        model (VisionLLMv2): The model, in eval mode.
        samples (Sequence[dict]): At least 2 packed samples (``dataset[i]``), each with an image
            and answer tokens.

    Returns:
        dict[str, float]: ``answer_prob_change``, ``answer_top1_agreement``, ``image_token_norm``,
        ``text_token_norm``, ``image_token_spread`` and ``num_answer_tokens``.
    """
    if len(samples) < 2:
        raise ValueError('image_reliance needs at least 2 samples to swap their images')
    data = model.data_preprocessor(pseudo_collate(list(samples)), False)
    inputs, data_samples = data['inputs'], data['data_samples']
    tiles = inputs['clip_pixels']
    if any(t is None for t in tiles):
        raise ValueError('image_reliance: every sample needs an image')
    if len({tuple(t.shape) for t in tiles}) != 1:
        raise ValueError('image_reliance: the samples need the same number of CLIP tiles to swap '
                         'their images')
    swapped = dict(inputs, clip_pixels=list(tiles[1:]) + list(tiles[:1]))
    labels = inputs['labels'][:, 1:]
    answer = labels != -100
    if not bool(answer.any()):
        raise ValueError('image_reliance: the samples have no answer tokens')
    own = model(inputs, data_samples, mode='tensor')[:, :-1][answer].float().softmax(-1)
    other = model(swapped, data_samples, mode='tensor')[:, :-1][answer].float().softmax(-1)

    image_tokens, _ = model.encode_images(tiles, data_samples)
    image_tokens = torch.stack(list(image_tokens)).float()  # [B, L, C]
    is_text = (inputs['input_ids'] != model.image_token_id) & inputs['attention_mask'].bool()
    text_tokens = model.llm.embed(inputs['input_ids'])[is_text].float()
    image_norm = image_tokens.norm(dim=-1).mean()
    return dict(
        answer_prob_change=float(0.5 * (own - other).abs().sum(-1).mean()),
        answer_top1_agreement=float((own.argmax(-1) == other.argmax(-1)).float().mean()),
        image_token_norm=float(image_norm),
        text_token_norm=float(text_tokens.norm(dim=-1).mean()),
        image_token_spread=float(image_tokens.std(0).norm(dim=-1).mean() / image_norm),
        num_answer_tokens=int(answer.sum()))


def task_samples(dataset, task: str, num: int) -> List[dict]:
    """The first ``num`` samples of ``task`` in a (multi-task) test set."""
    parts = getattr(dataset, 'datasets', [dataset])
    for part in parts:
        if getattr(part, 'task', None) == task:
            return [part[i] for i in range(min(num, len(part)))]
    raise ValueError(f'the test set has no {task!r} samples; tasks: '
                     f'{[getattr(p, "task", None) for p in parts]}')


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = VisionLLMInferencer(cfg, args.checkpoint).model  # built, loaded, eval mode
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    figures = {
        task: image_reliance(model, task_samples(dataset, task, args.num_samples))
        for task in args.tasks
    }
    for task, values in figures.items():
        print(task + ': ' + ', '.join(f'{k} {v:.4g}' for k, v in values.items()))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(figures, f, indent=2)


if __name__ == '__main__':
    main()
