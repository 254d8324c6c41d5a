"""Official ``gdino.*`` tensors (prefix stripped) -> :class:`OfficialGroundingDinoDecoder` keys.

The decoder keeps the official module names, so most keys map to themselves. Three things differ:

* **Swin backbone.** The official checkpoint was saved with transformers 4.34's ``SwinBackbone``;
  transformers 5 moved the blocks under ``swin.`` and renamed the attention / MLP linears
  (``attention.self.query`` -> ``attention.q_proj``, ``intermediate.dense`` -> ``mlp.fc1`` ...,
  see ``_SWIN_RENAMES``). The saved int64 ``relative_position_index`` buffers are derived from the
  window size; transformers 5 keeps them non-persistent, so they are checked against ours (value
  and shape) and not returned.
* **Alias groups.** ``bbox_embed.{0..5}`` and ``model.decoder.bbox_embed.{0..5}`` are one shared
  MLP (12 names), ``mask_embed.{0..5}`` another (6 names); a ``.bin`` state dict stores every name,
  ``save_pretrained`` one per group. Any present member fills all names of its group (members that
  are present must be equal).
* Everything else is identity.

Every official key that is not placed is reported in one ``KeyError``; so is every key of ours
that received nothing.
"""
import re
from typing import Dict, List, Mapping, Sequence, Tuple

import torch
from torch import Tensor

__all__ = [
    'SWIN_PREFIX', 'official_to_ours_key', 'ours_to_official_key', 'alias_groups',
    'convert_official_gdino'
]

#: Path of the Swin backbone inside the decoder (same in the official checkpoint and here).
SWIN_PREFIX = 'model.backbone.conv_encoder.model.'

# (official pattern, our replacement) inside one Swin block, applied after ``encoder.`` moved
_SWIN_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r'attention\.self\.query\.', 'attention.q_proj.'),
    (r'attention\.self\.key\.', 'attention.k_proj.'),
    (r'attention\.self\.value\.', 'attention.v_proj.'),
    (r'attention\.output\.dense\.', 'attention.o_proj.'),
    (r'attention\.self\.relative_position_bias_table$',
     'attention.relative_position_bias.relative_position_bias_table'),
    (r'attention\.self\.relative_position_index$',
     'attention.relative_position_bias.relative_position_index'),
    (r'intermediate\.dense\.', 'mlp.fc1.'),
    (r'(blocks\.\d+\.)output\.dense\.', r'\1mlp.fc2.'),
)

_ALIAS_PATTERNS = (
    re.compile(r'^(?:model\.decoder\.)?bbox_embed\.\d+\.(.+)$'),
    re.compile(r'^mask_embed\.\d+\.(.+)$'),
)


def official_to_ours_key(key: str) -> str:
    """Our name of an official (prefix-stripped) key."""
    if not key.startswith(SWIN_PREFIX):
        return key
    rest = key[len(SWIN_PREFIX):]
    if rest.startswith(('embeddings.', 'encoder.')):
        rest = 'swin.' + rest
        for pattern, repl in _SWIN_RENAMES:
            rest = re.sub(pattern, repl, rest)
    return SWIN_PREFIX + rest


def ours_to_official_key(key: str) -> str:
    """The official name of one of our keys (inverse of :func:`official_to_ours_key`)."""
    if not key.startswith(SWIN_PREFIX + 'swin.'):
        return key
    rest = key[len(SWIN_PREFIX + 'swin.'):]
    inverse = (
        (r'attention\.q_proj\.', 'attention.self.query.'),
        (r'attention\.k_proj\.', 'attention.self.key.'),
        (r'attention\.v_proj\.', 'attention.self.value.'),
        (r'attention\.o_proj\.', 'attention.output.dense.'),
        (r'attention\.relative_position_bias\.relative_position_bias_table$',
         'attention.self.relative_position_bias_table'),
        (r'attention\.relative_position_bias\.relative_position_index$',
         'attention.self.relative_position_index'),
        (r'mlp\.fc1\.', 'intermediate.dense.'),
        (r'mlp\.fc2\.', 'output.dense.'),
    )
    for pattern, repl in inverse:
        rest = re.sub(pattern, repl, rest)
    return SWIN_PREFIX + rest


def alias_groups(keys: Sequence[str]) -> Dict[str, List[str]]:
    """Group the names of shared tensors: group id -> member names (in ``keys`` order)."""
    groups: Dict[str, List[str]] = {}
    for key in keys:
        for gid, pattern in enumerate(_ALIAS_PATTERNS):
            match = pattern.match(key)
            if match:
                groups.setdefault(f'{gid}:{match.group(1)}', []).append(key)
    return groups


def convert_official_gdino(official: Mapping[str, Tensor], target: Mapping[str, Tensor],
                           derived_buffers: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Map prefix-stripped official tensors onto our state-dict keys.

    Args:
        official (Mapping[str, Tensor]): official ``gdino.*`` tensors without ``gdino.``.
        target (Mapping[str, Tensor]): our state dict (names and shapes; meta tensors are fine).
        derived_buffers (Mapping[str, Tensor]): our non-persistent buffers by name, against which
            official buffers without a state-dict counterpart are checked.

    Returns:
        dict[str, Tensor]: every key of ``target`` -> tensor.

    Raises:
        KeyError: listing every official key that could not be placed (unknown name, shape
            mismatch, differing alias copies, derived buffer of another value) and every target
            key left without a tensor.
    """
    problems: List[str] = []
    result: Dict[str, Tensor] = {}
    for key, value in official.items():
        ours = official_to_ours_key(key)
        if ours in target:
            if tuple(target[ours].shape) != tuple(value.shape):
                problems.append(f'{key}: shape {tuple(value.shape)} != ours '
                                f'{tuple(target[ours].shape)} ({ours})')
                continue
            result[ours] = value
        elif ours in derived_buffers:
            mine = derived_buffers[ours]
            if mine.is_meta:
                ok = mine.numel() == value.numel()
            else:
                ok = mine.numel() == value.numel() and torch.equal(
                    mine.reshape(-1).cpu(),
                    value.reshape(-1).to(mine.dtype).cpu())
            if not ok:
                problems.append(f'{key}: derived buffer differs from ours ({ours})')
        else:
            problems.append(f'{key}: no such parameter here ({ours})')
    for members in alias_groups(list(target)).values():
        present = [m for m in members if m in result]
        if not present:
            continue
        first = result[present[0]]
        for other in present[1:]:
            if not first.is_meta and not torch.equal(first, result[other]):
                problems.append(f'{other}: alias of {present[0]} holds a different tensor')
        for member in members:
            result.setdefault(member, first)
    missing = [key for key in target if key not in result]
    problems.extend(f'{key}: not provided by the official state dict (ours)' for key in missing)
    if problems:
        raise KeyError('official gdino state dict does not fit OfficialGroundingDinoDecoder:\n  ' +
                       '\n  '.join(problems))
    return result
