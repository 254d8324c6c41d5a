"""How well a vision tower's frozen features tell an image's caption tags (a probe).

Usage::

    python tools/analysis_tools/vision_probe.py CONFIG [--checkpoint CKPT] [--iters 1500]
        [--out probe.json] [--cfg-options ...]

``CONFIG`` is a :class:`VisionTagPretrainer` config with a ``CocoCaptionTagDataset`` for training
and ``tag_val_dataset`` for held-out images (the demo's stage 0:
``configs/visionllmv2/visionllmv2_tiny_shapesworld_vision_pretrain.py``). ``CKPT`` is any
checkpoint whose ``vision_encoder.*`` weights the tower loads (stage 0, 1 or 2 of the demo);
without it the tower keeps its random init. The tool encodes every image once with the frozen
tower, trains a fresh tag head (the pretrainer's own: per-token MLP, max over the tokens) on the
training images and prints, per tag, the held-out accuracy beside that of always giving the tag's
majority answer on the training images. A tower whose features hide shapes leaves the LLM nothing
to read about them (docs/en/training_recipe.md).
Reused: the config's dataset and pipeline, the model's data preprocessor, tower and head.
"""
import argparse
import json
from typing import Dict, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.runner import load_checkpoint
from torch import Tensor

from mmvisionllm.registry import DATASETS, MODELS
from mmvisionllm.utils import register_all_modules


def parse_args():
    parser = argparse.ArgumentParser(description='Probe a frozen vision tower with caption tags')
    parser.add_argument('config', help='VisionTagPretrainer config with tag_val_dataset')
    parser.add_argument('--checkpoint', help='checkpoint with vision_encoder.* weights')
    parser.add_argument('--iters', type=int, default=1500, help='head training steps')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the figures to this json file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override settings of the config')
    return parser.parse_args()


@torch.no_grad()
def encode_dataset(model, dataset, batch_size: int = 64) -> Tuple[Tensor, Tensor]:
    """Frozen tokens [N, T * L, C] and multi-hot tags [N, K] of every image of ``dataset``."""
    tokens, targets = [], []
    for start in range(0, len(dataset), batch_size):
        stop = min(start + batch_size, len(dataset))
        batch = pseudo_collate([dataset[i] for i in range(start, stop)])
        data = model.data_preprocessor(batch, False)
        tiles = data['inputs']['clip_pixels']
        for offset, (sample, sample_tiles) in enumerate(zip(data['data_samples'], tiles)):
            if sample_tiles is None:
                raise ValueError(f'vision_probe: sample {start + offset} (img_id '
                                 f'{sample.metainfo.get("img_id")!r}) has no image (CLIP tiles); '
                                 'probe a dataset of images')
        if len({t.shape[0] for t in tiles}) != 1:
            raise ValueError('vision_probe: every image needs the same number of CLIP tiles')
        encoded = model.vision_encoder(torch.cat(tiles)).patch_tokens.float()  # [ΣT, L, C]
        tokens.append(encoded.reshape(len(tiles), -1, encoded.shape[-1]))
        targets.append(model.tag_targets(data['data_samples'], encoded.device))
    return torch.cat(tokens), torch.cat(targets)


def probe(model, train: Tuple[Tensor, Tensor], val: Tuple[Tensor, Tensor], iters: int,
          batch_size: int) -> Dict[str, Tensor]:
    """Train ``model.tag_head`` on frozen training tokens; per-tag held-out accuracies [K]."""
    (train_tokens, train_tags), (val_tokens, val_tags) = train, val
    optimizer = torch.optim.Adam(model.tag_head.parameters(), lr=3e-3)
    for _ in range(iters):
        index = torch.randint(0, len(train_tokens), (batch_size, ))
        logits = model.head_logits(train_tokens[index], [1] * batch_size)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, train_tags[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = model.head_logits(val_tokens, [1] * len(val_tokens)) > 0
    majority = (train_tags.mean(0) > 0.5).float()
    return dict(
        accuracy=(predicted.float() == val_tags).float().mean(0),
        majority_accuracy=(majority == val_tags).float().mean(0))


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if 'tag_val_dataset' not in cfg:
        raise KeyError(f'{args.config} has no tag_val_dataset (held-out images to probe on)')
    torch.manual_seed(args.seed)
    model = MODELS.build(cfg.model)
    if args.checkpoint:
        # the tower only (any other key, e.g. a stage-0 tag head, stays unloaded)
        load_checkpoint(
            model.vision_encoder,
            args.checkpoint,
            map_location='cpu',
            strict=False,
            revise_keys=[(r'^vision_encoder\.', '')])
    model.eval()
    for parameter in model.vision_encoder.parameters():
        parameter.requires_grad_(False)
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    val_set = DATASETS.build(cfg.tag_val_dataset)
    figures = probe(model, encode_dataset(model, train_set, args.batch_size),
                    encode_dataset(model, val_set, args.batch_size), args.iters, args.batch_size)
    tags = list(train_set.tags)
    print(f'{"tag":<12} held-out accuracy   majority answer')
    for k, tag in enumerate(tags):
        print(f'{tag:<12} {figures["accuracy"][k]:.3f}               '
              f'{figures["majority_accuracy"][k]:.3f}')
    print(f'{"mean":<12} {figures["accuracy"].mean():.3f}               '
          f'{figures["majority_accuracy"].mean():.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(
                {
                    tag: {
                        key: float(value[k])
                        for key, value in figures.items()
                    }
                    for k, tag in enumerate(tags)
                },
                f,
                indent=2)


if __name__ == '__main__':
    main()
