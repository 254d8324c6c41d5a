"""Merge a VisionLLMv2 checkpoint's LoRA into its LLM, for deployment or the next stage.

Usage::

    python tools/model_converters/merge_lora.py CONFIG CHECKPOINT \
        [--hf-dir DIR] [--out FULL.pth] [--cfg-options ...]

The model of ``CONFIG`` is built (its frozen parts from their folders), ``CHECKPOINT`` (adapter-
style or full) is loaded strictly, and peft's ``merge_and_unload`` folds the LoRA matrices and the
trainable token rows into the LLM's weights. Then:

* ``--hf-dir DIR``: the merged LLM and its tokenizer (with the added special tokens) are written
  with ``save_pretrained`` to ``DIR``, a Hugging Face folder that ``transformers`` loads alone and
  that ``llm.pretrained_path`` can name (stage 1b -> stage 2: the next stage's checkpoints then
  leave the LLM out again). The rest of the model (projector, region encoder, query tables,
  decoders) goes to ``DIR/visionllmv2_rest.pth``, an mmengine checkpoint for ``load_from``.
* ``--out FULL.pth``: one full mmengine checkpoint of the merged model (no LoRA names), which loads
  into the same config with ``model.llm.lora=None`` (or, LoRA at identity, into the LoRA config).

Reused: the config's model build, peft's ``merge_and_unload``, HF ``save_pretrained`` and
:func:`mmvisionllm.models.mllm.base_weights.restore_base_weights` (the adapter checkpoint's frozen
parts).
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.runner.checkpoint import _load_checkpoint

from mmvisionllm.models.mllm.base_weights import restore_base_weights
from mmvisionllm.registry import MODELS
from mmvisionllm.utils import allow_mmengine_checkpoint_types, register_all_modules

__all__ = ['load_merged_model']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='an adapter-style or full checkpoint')
    parser.add_argument('--hf-dir', help='write the merged LLM here as a Hugging Face folder')
    parser.add_argument('--out', help='write one full checkpoint of the merged model here')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    if not args.hf_dir and not args.out:
        parser.error('give --hf-dir and/or --out')
    return args


def load_merged_model(config: Config, checkpoint_path: str):
    """The model of ``config`` with ``checkpoint_path`` loaded and its LoRA merged (eval mode)."""
    model = MODELS.build(config.model)
    checkpoint = _load_checkpoint(checkpoint_path, map_location='cpu')
    restore_base_weights(model, checkpoint)
    model.load_state_dict(checkpoint['state_dict'], strict=True)
    if hasattr(model.llm.model, 'merge_and_unload'):
        model.llm.model = model.llm.model.merge_and_unload()
    model.llm.lora_cfg = None
    return model.eval()


def main():
    args = parse_args()
    register_all_modules()
    allow_mmengine_checkpoint_types()
    config = Config.fromfile(args.config)
    if args.cfg_options:
        config.merge_from_dict(args.cfg_options)
    model = load_merged_model(config, args.checkpoint)
    meta = dict(merged_from=osp.abspath(args.checkpoint), config=args.config)
    if args.hf_dir:
        os.makedirs(args.hf_dir, exist_ok=True)
        model.llm.model.save_pretrained(args.hf_dir)
        model.llm.tokenizer.save_pretrained(args.hf_dir)
        rest = {k: v for k, v in model.state_dict().items() if not k.startswith('llm.')}
        torch.save(dict(state_dict=rest, meta=meta), osp.join(args.hf_dir, 'visionllmv2_rest.pth'))
        print(f'wrote the merged LLM to {args.hf_dir} and the other parts to '
              f'{osp.join(args.hf_dir, "visionllmv2_rest.pth")}')
    if args.out:
        torch.save(dict(state_dict=model.state_dict(), meta=meta), args.out)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
