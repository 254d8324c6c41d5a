"""Compose one starting checkpoint from the parts of others (e.g. an MLLM plus specialist decoders).

    python tools/model_converters/compose_checkpoint.py BASE.pth OUT.pth \
        --part decoders.det.=DET.pth --part decoder.:decoders.pose.=POSE.pth \
        [--drop super_link.query_tables. decoders.gen.]

The paper starts VisionLLM v2's stage 2 from a trained MLLM and pretrained decoders (Grounding
DINO-T, UniPose-T); this writes that start as one MMEngine checkpoint for ``load_from``. Every key
of ``BASE`` is kept except those under a ``--drop`` prefix or under a part's destination prefix
(the part replaces that whole subtree, so no tensor of the base's own decoder survives beside the
specialist's). A part ``[SRC_PREFIX:]DST_PREFIX=CKPT`` takes the keys of ``CKPT`` that start with
``SRC_PREFIX`` (``DST_PREFIX`` itself when it is left out; a ``module.`` of DDP is stripped) and
renames that prefix to ``DST_PREFIX``: ``decoder.:decoders.pose.=pose.pth`` moves a
``PoseSpecialist``'s decoder under the generalist's pose group, ``decoders.det.=det.pth`` takes the
output of ``gdino_to_link_decoder.py`` as it is. A part that yields no key, or two parts writing
the same key, are errors. What the target model has and the composed file lacks (new link
projections, dropped query tables) starts from the model's initialisation when loaded non-strictly,
as ``load_from`` does; MMEngine lists those keys in the log.

MMEngine's ``load_checkpoint`` takes one file (``revise_keys`` renames, but cannot merge), hence
this tool.
"""
import argparse
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor

from mmvisionllm.utils import allow_mmengine_checkpoint_types

__all__ = ['parse_part', 'compose_state_dict']


def parse_part(spec: str) -> Tuple[str, str, str]:
    """``[SRC_PREFIX:]DST_PREFIX=CKPT`` -> (src_prefix, dst_prefix, ckpt)."""
    prefixes, sep, path = spec.partition('=')
    if not sep or not path or not prefixes:
        raise ValueError(f'--part {spec!r}: expected [SRC_PREFIX:]DST_PREFIX=CKPT')
    src, sep, dst = prefixes.rpartition(':')
    return (src if sep else dst), dst, path


def _state_dict(path: str) -> Dict[str, Tensor]:
    checkpoint = _load_checkpoint(path, map_location='cpu')
    state = checkpoint.get('state_dict', checkpoint)
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def compose_state_dict(
    base: Dict[str, Tensor],
    parts: Sequence[Tuple[str, str, Dict[str, Tensor]]],
    drop: Sequence[str] = ()
) -> Tuple['OrderedDict[str, Tensor]', List[str]]:
    """Replace subtrees of ``base`` by renamed parts of other state dicts.

    Args:
        base (dict): key -> tensor of the base checkpoint.
        parts (Sequence[tuple]): (src_prefix, dst_prefix, state dict) per part.
        drop (Sequence[str]): prefixes of base keys to leave out.

    Returns:
        tuple: the composed state dict and a report line per part / drop.
    """
    removed = tuple(drop) + tuple(dst for _, dst, _ in parts)
    composed = OrderedDict((k, v) for k, v in base.items() if not k.startswith(removed))
    report = [f'base: kept {len(composed)} of {len(base)} tensors']
    for prefix in drop:
        report.append(f'dropped {sum(k.startswith(prefix) for k in base)} base tensors under '
                      f'{prefix!r}')
    written: Dict[str, str] = {}
    for src, dst, state in parts:
        taken = {dst + k[len(src):]: v for k, v in state.items() if k.startswith(src)}
        if not taken:
            raise ValueError(f'part {src!r} -> {dst!r}: no key of its checkpoint starts with '
                             f'{src!r} (its keys start with '
                             f'{sorted({k.split(".")[0] for k in state})})')
        clash = sorted(set(taken) & set(written))
        if clash:
            raise ValueError(f'parts {written[clash[0]]!r} and {dst!r} both write {clash[:3]}')
        written.update(dict.fromkeys(taken, dst))
        replaced = sum(k.startswith(dst) for k in base)
        report.append(f'{src} -> {dst}: {len(taken)} tensors (replacing {replaced})')
        composed.update(taken)
    return composed, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('base', help='checkpoint whose keys are kept unless replaced or dropped')
    parser.add_argument('out', help='output checkpoint')
    parser.add_argument(
        '--part',
        action='append',
        default=[],
        metavar='[SRC_PREFIX:]DST_PREFIX=CKPT',
        help='keys of CKPT under SRC_PREFIX, renamed to DST_PREFIX (repeatable)')
    parser.add_argument('--drop', nargs='+', default=[], help='prefixes of base keys to drop')
    args = parser.parse_args()
    allow_mmengine_checkpoint_types()
    try:
        parts = [(src, dst, _state_dict(path)) for src, dst, path in map(parse_part, args.part)]
        composed, report = compose_state_dict(_state_dict(args.base), parts, args.drop)
    except ValueError as error:
        parser.error(str(error))
    print('\n'.join(report))
    sources = dict(base=args.base, parts=args.part, drop=args.drop)
    torch.save(dict(state_dict=composed, meta=dict(composed_from=sources)), args.out)
    print(f'saved {args.out} ({len(composed)} tensors)')


if __name__ == '__main__':
    main()
