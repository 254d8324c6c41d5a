"""Convert an official VisionLLM v2 checkpoint folder into an mmvisionllm checkpoint.

Usage::

    python tools/model_converters/visionllmv2_to_mmvisionllm.py OFFICIAL_DIR OUT_DIR \
        [--config configs/visionllmv2/visionllmv2_7b_official.py] [--cfg-options ...] \
        [--tokenizer DIR] [--skip PATTERN ...] [--lora-alpha 64] [--device meta|cpu]

``OFFICIAL_DIR`` is the released folder (``config.json``, ``model.safetensors`` or sharded
``model-*.safetensors`` with ``model.safetensors.index.json``, or ``pytorch_model*.bin``, and the
tokenizer files) or one weight file. A LoRA-wrapped LLM (``use_llm_lora`` in ``config.json``, or
``lora_A``/``lora_B`` tensors) is merged first (``W + alpha/r * B @ A``; the official r=32,
alpha=64). The model of ``--config`` is built (on the meta device by default: no memory for the
7B weights), every official tensor is mapped onto it (core names here, the region encoder and the
decoders by their own ``convert_official_state_dict``) and loaded strictly. The tool fails naming
every official tensor it could not place and every tensor of the model left without one, unless
each matches a ``--skip`` pattern (``fnmatch`` on official names and on ours, e.g.
``--skip 'unipose.*' 'decoders.pose.*'``). It writes:

* ``OUT_DIR/visionllmv2.pth``: an mmengine checkpoint (``state_dict`` + ``meta``) for
  ``tools/test.py CONFIG OUT_DIR/visionllmv2.pth`` or ``load_from``;
* ``OUT_DIR/tokenizer/``: the tokenizer with the official special tokens (ids checked against the
  official order), for ``model.llm.tokenizer_path``.

The mapping: :mod:`mmvisionllm.models.mllm.official_conversion`.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import torch
from mmengine.config import Config, DictAction

from mmvisionllm.models.mllm.official_conversion import (OFFICIAL_PARTS, OfficialConversionError,
                                                         check_official_config,
                                                         convert_official_state_dict,
                                                         merge_official_lora, read_official_folder)
from mmvisionllm.models.mllm.vocabulary_extension import VOCABULARY_KEY, encode_vocabulary
from mmvisionllm.registry import MODELS
from mmvisionllm.utils import register_all_modules

__all__ = ['convert', 'main']

DEFAULT_CONFIG = 'configs/visionllmv2/visionllmv2_7b_official.py'
CHECKPOINT_NAME = 'visionllmv2.pth'
_TOKENIZER_FILES = ('tokenizer.json', 'tokenizer.model', 'tokenizer_config.json')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint folder (or one weight file)')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='our model config')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings')
    parser.add_argument(
        '--tokenizer', help='tokenizer folder (default: the official folder when it has one)')
    parser.add_argument(
        '--skip',
        nargs='+',
        default=[],
        help='fnmatch patterns of official (or our) names that may stay unplaced')
    parser.add_argument('--lora-alpha', type=float, default=64., help='LoRA alpha (official 64)')
    parser.add_argument(
        '--lora-r', type=int, default=None, help='LoRA rank (default: read from lora_A)')
    parser.add_argument(
        '--device',
        default='meta',
        choices=('meta', 'cpu'),
        help='where to build our model for the strict check (meta: no weight memory)')
    return parser.parse_args(argv)


def _tokenizer_dir(args: argparse.Namespace) -> str:
    if args.tokenizer:
        return args.tokenizer
    folder = args.src if osp.isdir(args.src) else osp.dirname(args.src)
    if any(osp.isfile(osp.join(folder, f)) for f in _TOKENIZER_FILES):
        return folder
    raise SystemExit(f'{args.src} has no tokenizer files ({", ".join(_TOKENIZER_FILES)}): pass '
                     '--tokenizer DIR (the Vicuna-7B v1.5 tokenizer the release was trained with)')


def build_model(cfg: Config, device: str):
    """Build ``cfg.model``; an unregistered type names the part it belongs to."""
    try:
        with torch.device(device):
            return MODELS.build(cfg.model)
    except KeyError as error:
        message = str(error)
        if 'not in the' in message and 'registry' in message:
            parts = '; '.join(f'{path}: {provider}' for path, provider in OFFICIAL_PARTS.values())
            raise SystemExit(
                f'building {cfg.filename}: {message}. That part is not available in this install '
                f'(parts: {parts}). Leave it out with --cfg-options (e.g. '
                'model.region_encoder=None) and --skip its official prefix') from error
        raise


def _check_special_tokens(model, cfg: Config) -> None:
    tokens = cfg.model.get('special_tokens') or []
    if not tokens:
        return
    tokenizer = model.llm.tokenizer
    ids = tokenizer.convert_tokens_to_ids(list(tokens))
    first = ids[0]
    expected = list(range(first, first + len(tokens)))
    if ids != expected:
        wrong = {t: i for t, i, e in zip(tokens, ids, expected) if i != e}
        raise SystemExit(f'the tokenizer does not hold the official special tokens in their order '
                         f'from id {first}: {wrong}')


def convert(src: str,
            out_dir: str,
            config: str = DEFAULT_CONFIG,
            cfg_options: Optional[dict] = None,
            tokenizer: Optional[str] = None,
            skip: Sequence[str] = (),
            lora_alpha: float = 64.,
            lora_r: Optional[int] = None,
            device: str = 'meta') -> str:
    """Convert ``src`` into ``out_dir``; returns the checkpoint path (see the module doc)."""
    args = argparse.Namespace(src=src, tokenizer=tokenizer)
    register_all_modules(init_default_scope=True)
    official, official_config = read_official_folder(src)
    has_lora = any('.lora_A' in k for k in official)
    if official_config.get('use_llm_lora') or has_lora:
        official = merge_official_lora(official, lora_alpha=lora_alpha, r=lora_r)
        print(f'merged the LLM LoRA (alpha {lora_alpha}, r {lora_r or "from lora_A"})')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.model.llm.tokenizer_path = _tokenizer_dir(args)
    model = build_model(cfg, device)
    _check_special_tokens(model, cfg)
    disagreements = check_official_config(official_config, model)
    if disagreements:
        raise SystemExit(f'{src}/config.json disagrees with {config}:\n  ' +
                         '\n  '.join(disagreements))
    target = model.state_dict()
    try:
        state = convert_official_state_dict(model, official, skip=skip, target=target)
    except OfficialConversionError as error:
        raise SystemExit(str(error)) from error
    state[VOCABULARY_KEY] = encode_vocabulary(model._vocabulary_extender.vocabulary())
    model.load_state_dict(state, strict=True, assign=device == 'meta')
    os.makedirs(out_dir, exist_ok=True)
    path = osp.join(out_dir, CHECKPOINT_NAME)
    meta = dict(
        converted_from=osp.abspath(src),
        config=config,
        cfg_options=cfg_options or {},
        skipped=list(skip),
        lora_merged=bool(official_config.get('use_llm_lora') or has_lora))
    torch.save(dict(state_dict=state, meta=meta), path)
    model.llm.tokenizer.save_pretrained(osp.join(out_dir, 'tokenizer'))
    placed = len(state) - 1
    print(f'wrote {path} ({placed} tensors from {len(official)} official ones) and '
          f'{osp.join(out_dir, "tokenizer")}')
    return path


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    convert(
        args.src,
        args.out_dir,
        config=args.config,
        cfg_options=args.cfg_options,
        tokenizer=args.tokenizer,
        skip=args.skip,
        lora_alpha=args.lora_alpha,
        lora_r=args.lora_r,
        device=args.device)


if __name__ == '__main__':
    main(sys.argv[1:])
