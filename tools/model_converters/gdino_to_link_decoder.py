"""Convert an mmdet Grounding DINO checkpoint into a checkpoint of the link detection decoder.

    python tools/model_converters/gdino_to_link_decoder.py SRC.pth DST.pth \
        [--config configs/_base_/models/decoders/det_swin_t.py --in-channels 4096] \
        [--model-prefix decoders.det.]

Drops the BERT branch (``language_model.*``, ``text_feat_map.*``) and prefixes the rest with
``<model-prefix>detector.``. With ``--config`` (a decoder base config defining ``det_decoder``, or a
model config with ``model.decoders.det``) the decoder is built on CPU and every key is checked
against it: keys it lacks or with another shape are left out and reported, as are its parts that
receive nothing (link projection, mask branch). The
output is an MMEngine checkpoint (``state_dict`` + ``meta``) for ``load_from`` with non-strict
loading, or for ``mmengine.runner.load_checkpoint(model, DST, strict=False)``. The mapping itself is
:func:`mmvisionllm.models.decoders.detection.convert_gdino_state_dict`.
"""
import argparse
import copy
from typing import Optional

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
        '--config', help='config with det_decoder or model.decoders.det, to check keys/shapes')
    parser.add_argument('--in-channels', type=int, default=4096,
                        help='LLM width for building the decoder from --config (default 4096)')
    parser.add_argument('--model-prefix', default='',
                        help="where the decoder sits in the target model, e.g. 'decoders.det.'")
    return parser.parse_args()


def build_target(config: str, in_channels: int, model_prefix: str) -> Optional[dict]:
    """State dict of the decoder built from ``config`` (keys prefixed with ``model_prefix``)."""
    config = Config.fromfile(config)
    # a decoder base config (det_decoder variable) or a model config (model.decoders.det)
    cfg = copy.deepcopy(config.get('det_decoder') or config.model.decoders.det)
    cfg.setdefault('in_channels', in_channels)
    decoder = MODELS.build(cfg)
    return {model_prefix + key: value for key, value in decoder.state_dict().items()}


def main() -> None:
    args = parse_args()
    register_all_modules()
    allow_mmengine_checkpoint_types()
    checkpoint = _load_checkpoint(args.src, map_location='cpu')
    source = checkpoint.get('state_dict', checkpoint)
    target = build_target(args.config, args.in_channels, args.model_prefix) if args.config else None
    result = convert_gdino_state_dict(
        source, prefix=args.model_prefix + 'detector.', target=target)
    print(f'mapped {len(result.state_dict)} tensors, dropped {len(result.dropped)} text-branch '
          f'keys')
    for key, (src_shape, dst_shape) in result.mismatched.items():
        print(f'  shape mismatch, left out: {key} {src_shape} -> {dst_shape}')
    for key in result.unexpected:
        print(f'  not in the decoder, left out: {key}')
    if target is not None:
        # the detector's new parts (result.missing) and the plugin's own (link projection...)
        fresh = [key for key in target if key not in result.state_dict]
        print(f'{len(fresh)} decoder tensors start from their initialisation: '
              f'{sorted({key.rsplit(".", 1)[0] for key in fresh})}')
    torch.save(dict(state_dict=result.state_dict,
                    meta=dict(converted_from=args.src, converter='gdino_to_link_decoder')),
               args.dst)
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
