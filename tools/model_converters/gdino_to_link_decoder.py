"""Convert an mmdet Grounding DINO checkpoint into a checkpoint of the link detection decoder.

    python tools/model_converters/gdino_to_link_decoder.py SRC.pth DST.pth \
        --config configs/visionllmv2/visionllmv2_7b_coco_stage2.py [--group det] \
        [--in-channels 4096] [--model-prefix decoders.det.] [--skip PATTERN ...]

Drops the BERT branch (``language_model.*``, ``text_feat_map.*``) and prefixes the rest with
``<model-prefix>detector.``. The decoder of ``--config`` is built on CPU and every key is checked
against it: the decoder the model configures (``model.decoders.<group>``) when the config has a
model, else a decoder base config's ``det_decoder`` variable (the model's decoder may have other
widths than the variable it started from). A source tensor the decoder lacks or has with another
shape would be left out: the tool then fails and writes nothing, unless every such key matches a
``--skip`` pattern (``fnmatch``, e.g. ``'*bbox_head.cls_branches*'``). The decoder's parts that
receive nothing (link projection, mask branch) are listed. The
output is an MMEngine checkpoint (``state_dict`` + ``meta``) for ``load_from`` with non-strict
loading, or for ``mmengine.runner.load_checkpoint(model, DST, strict=False)``. The mapping itself is
:func:`mmvisionllm.models.decoders.detection.convert_gdino_state_dict`.
"""
import argparse
import copy
import fnmatch
import sys

import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint

from mmvisionllm.models.decoders.detection import convert_gdino_state_dict
from mmvisionllm.registry import MODELS
from mmvisionllm.utils import allow_mmengine_checkpoint_types, register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='mmdet Grounding DINO checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument(
        '--config',
        required=True,
        help='model config with model.decoders.<group> (or a decoder base config with '
        'det_decoder): the decoder every key is checked against')
    parser.add_argument('--group', default='det', help='decoder group in the model (default det)')
    parser.add_argument(
        '--skip',
        nargs='+',
        default=[],
        help='fnmatch patterns of (prefixed) keys that may be left out')
    parser.add_argument(
        '--in-channels',
        type=int,
        default=4096,
        help='LLM width for building the decoder from --config (default 4096)')
    parser.add_argument(
        '--model-prefix',
        default='',
        help="where the decoder sits in the target model, e.g. 'decoders.det.'")
    return parser.parse_args()


def decoder_cfg(config: Config, group: str = 'det') -> dict:
    """The decoder config to check against: ``model.decoders.<group>`` when ``config`` has a model,
    else the ``det_decoder`` variable of a decoder base config."""
    decoders = (config.get('model') or {}).get('decoders') or {}
    if 'model' in config:
        if group not in decoders:
            raise KeyError(f'the config has a model but no model.decoders.{group} '
                           f'(its decoders: {sorted(decoders)})')
        return copy.deepcopy(decoders[group])
    if 'det_decoder' not in config:
        raise KeyError('the config has neither a model nor a det_decoder variable')
    return copy.deepcopy(config.det_decoder)


def build_target(config: str, in_channels: int, model_prefix: str, group: str = 'det') -> dict:
    """State dict of the decoder built from ``config`` (keys prefixed with ``model_prefix``)."""
    cfg = decoder_cfg(Config.fromfile(config), group)
    cfg.setdefault('in_channels', in_channels)
    decoder = MODELS.build(cfg)
    return {model_prefix + key: value for key, value in decoder.state_dict().items()}


def main() -> None:
    args = parse_args()
    register_all_modules()
    allow_mmengine_checkpoint_types()
    checkpoint = _load_checkpoint(args.src, map_location='cpu')
    source = checkpoint.get('state_dict', checkpoint)
    target = build_target(args.config, args.in_channels, args.model_prefix, args.group)
    result = convert_gdino_state_dict(source, prefix=args.model_prefix + 'detector.', target=target)
    print(f'mapped {len(result.state_dict)} tensors, dropped {len(result.dropped)} text-branch '
          f'keys')
    refused = []
    left_out = [(key, f'shape {src} -> {dst}') for key, (src, dst) in result.mismatched.items()]
    left_out += [(key, 'not in the decoder') for key in result.unexpected]
    for key, why in left_out:
        skipped = any(fnmatch.fnmatch(key, pattern) for pattern in args.skip)
        print(f'  left out ({why}){", skipped as asked" if skipped else ""}: {key}')
        if not skipped:
            refused.append(key)
    if refused:
        print(
            f'error: {len(refused)} tensors of {args.src} would be left out (above); check that '
            f'--config builds the decoder the checkpoint is for (model.decoders.{args.group}), '
            'or name what may be dropped with --skip. Nothing written.',
            file=sys.stderr)
        sys.exit(1)
    # the detector's new parts (result.missing) and the plugin's own (link projection...)
    fresh = [key for key in target if key not in result.state_dict]
    print(f'{len(fresh)} decoder tensors start from their initialisation: '
          f'{sorted({key.rsplit(".", 1)[0] for key in fresh})}')
    torch.save(
        dict(
            state_dict=result.state_dict,
            meta=dict(converted_from=args.src, converter='gdino_to_link_decoder')), args.dst)
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
