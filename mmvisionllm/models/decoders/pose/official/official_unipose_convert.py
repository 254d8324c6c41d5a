"""Official ``unipose.*`` tensors (prefix stripped) -> :class:`OfficialUniPoseDecoder` keys.

The decoder keeps the official module names except where a library module is reused:

* **Swin backbone** (``backbone.0.*``, Microsoft Swin naming): mmdet's ``SwinTransformer`` with
  mmdet's own Microsoft->mmdet converter ``swin_converter`` (``layers``->``stages``,
  ``attn``->``attn.w_msa``, ``mlp.fc1/fc2``->``ffn.layers.0.0/1``, ``patch_embed.proj``->
  ``patch_embed.projection`` and the channel reorder of the patch-merging ``reduction`` / ``norm``
  that mmdet's ``nn.Unfold`` merging needs). The saved int64 ``relative_position_index`` buffers are
  derived from the window size: they are checked against ours (value and shape).
* **Encoder** (``transformer.encoder.{layers,text_layers,fusion_layers}.N``): transformers'
  ``GroundingDinoEncoderLayer`` holds the three sub-layers of step N as ``deformable_layer``,
  ``text_enhancer_layer`` and ``fusion_layer`` with its own names (:data:`_ENCODER_RENAMES`).
* **Alias groups.** ``bbox_embed.{0..5}`` = ``transformer.decoder.bbox_embed.{0..5}`` (one MLP),
  ``pose_embed.{0..4}`` (+ decoder twins) and ``pose_hw_embed.{0..3}`` (+ twins) likewise; a
  ``.bin`` keeps every name, ``save_pretrained`` one per group. Any present member fills its group.
* Everything else is identity.

Every official key that is not placed is reported in one ``KeyError``, and every key of ours left
without a tensor.
"""
import re
from typing import Dict, List, Mapping, Tuple

import torch
from mmdet.models.backbones.swin import swin_converter
from torch import Tensor

__all__ = [
    'official_to_ours_key', 'ours_to_official', 'alias_groups', 'convert_official_unipose',
    'BACKBONE_PREFIX'
]

#: Path of the Swin backbone (official and ours).
BACKBONE_PREFIX = 'backbone.0.'
_ENC = 'transformer.encoder.'

# (official sub-layer list, our sub-layer name, ((official name, our name), ...))
_ENCODER_RENAMES: Tuple[Tuple[str, str, Tuple[Tuple[str, str], ...]], ...] = (
    ('layers', 'deformable_layer',
     (('self_attn.', 'self_attn.'), ('norm1.', 'self_attn_layer_norm.'), ('linear1.', 'fc1.'),
      ('linear2.', 'fc2.'), ('norm2.', 'final_layer_norm.'))),
    ('text_layers', 'text_enhancer_layer',
     (('self_attn.', 'self_attn.'), ('linear1.', 'fc1.'), ('linear2.', 'fc2.'),
      ('norm1.', 'layer_norm_before.'), ('norm2.', 'layer_norm_after.'))),
    ('fusion_layers', 'fusion_layer',
     (('gam_v', 'vision_param'), ('gam_l', 'text_param'), ('layer_norm_v.', 'layer_norm_vision.'),
      ('layer_norm_l.', 'layer_norm_text.'), ('attn.v_proj.', 'attn.vision_proj.'),
      ('attn.l_proj.', 'attn.text_proj.'), ('attn.values_v_proj.', 'attn.values_vision_proj.'),
      ('attn.values_l_proj.', 'attn.values_text_proj.'),
      ('attn.out_v_proj.', 'attn.out_vision_proj.'), ('attn.out_l_proj.', 'attn.out_text_proj.'))),
)

_ALIAS_PATTERNS = (
    re.compile(r'^(?:transformer\.decoder\.)?bbox_embed\.\d+\.(.+)$'),
    re.compile(r'^(?:transformer\.decoder\.)?pose_embed\.\d+\.(.+)$'),
    re.compile(r'^(?:transformer\.decoder\.)?pose_hw_embed\.\d+\.(.+)$'),
)


def _rename_encoder(key: str) -> str:
    """Our name of an official encoder key (other keys unchanged)."""
    if not key.startswith(_ENC):
        return key
    rest = key[len(_ENC):]
    for official_list, ours_sub, renames in _ENCODER_RENAMES:
        match = re.match(rf'^{official_list}\.(\d+)\.(.+)$', rest)
        if not match:
            continue
        index, name = match.groups()
        for old, new in renames:
            if name.startswith(old):
                return f'{_ENC}layers.{index}.{ours_sub}.{new}{name[len(old):]}'
        return f'{_ENC}layers.{index}.{ours_sub}.?{name}'  # unknown: reported as unplaced
    return key


def official_to_ours_key(key: str) -> str:
    """Our name of an official (prefix-stripped) key outside the backbone."""
    return _rename_encoder(key)


def _swin_to_ours(backbone: Dict[str, Tensor]) -> Dict[str, Tuple[str, Tensor]]:
    """Official Swin tensors (without ``backbone.0.``) -> {our key: (official key, tensor)}."""
    out = {}
    for key, value in backbone.items():
        converted = swin_converter({key: value})
        (new_key, new_value), = converted.items()
        out[BACKBONE_PREFIX + new_key[len('backbone.'):]] = (BACKBONE_PREFIX + key, new_value)
    return out


def _unfold_order_inverse(x: Tensor) -> Tensor:
    """Inverse of mmdet's patch-merging channel reorder (weights [out, in] or norms [in])."""
    if x.dim() == 2:
        out_c, in_c = x.shape
        return x.reshape(out_c, in_c // 4, 4).transpose(1, 2)[:, [0, 2, 1, 3]].reshape(out_c, in_c)
    in_c = x.shape[0]
    return x.reshape(in_c // 4, 4).transpose(0, 1)[[0, 2, 1, 3]].reshape(in_c)


def ours_to_official(ours: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Our state dict -> the official layout (every alias name present), e.g. for tests."""
    swin_inverse = (
        (r'^stages\.', 'layers.'),
        (r'attn\.w_msa\.', 'attn.'),
        (r'ffn\.layers\.0\.0\.', 'mlp.fc1.'),
        (r'ffn\.layers\.1\.', 'mlp.fc2.'),
        (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    )
    encoder_inverse = {}
    for official_list, ours_sub, renames in _ENCODER_RENAMES:
        encoder_inverse[ours_sub] = (official_list, renames)
    result = {}
    for key, value in ours.items():
        if key.startswith(BACKBONE_PREFIX):
            rest = key[len(BACKBONE_PREFIX):]
            for pattern, repl in swin_inverse:
                rest = re.sub(pattern, repl, rest)
            if 'downsample.reduction.' in rest or 'downsample.norm.' in rest:
                value = _unfold_order_inverse(value)
            result[BACKBONE_PREFIX + rest] = value
            continue
        match = re.match(rf'^{re.escape(_ENC)}layers\.(\d+)\.(\w+)\.(.+)$', key)
        if match and match.group(2) in encoder_inverse:
            index, sub, name = match.groups()
            official_list, renames = encoder_inverse[sub]
            for old, new in renames:
                if name.startswith(new):
                    name = old + name[len(new):]
                    break
            result[f'{_ENC}{official_list}.{index}.{name}'] = value
            continue
        result[key] = value
    return result


def alias_groups(keys) -> Dict[str, List[str]]:
    """Group the names of shared tensors: group id -> member names (in ``keys`` order)."""
    groups: Dict[str, List[str]] = {}
    for key in keys:
        for gid, pattern in enumerate(_ALIAS_PATTERNS):
            match = pattern.match(key)
            if match:
                groups.setdefault(f'{gid}:{match.group(1)}', []).append(key)
    return groups


def _same(mine: Tensor, value: Tensor) -> bool:
    if mine.is_meta or value.is_meta:
        return mine.shape == value.shape
    return mine.shape == value.shape and torch.equal(mine.cpu(), value.to(mine.dtype).cpu())


def convert_official_unipose(official: Mapping[str, Tensor],
                             target: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Map prefix-stripped official tensors onto our state-dict keys.

    Args:
        official (Mapping[str, Tensor]): official ``unipose.*`` tensors without ``unipose.``.
        target (Mapping[str, Tensor]): our state dict (names, shapes, and the values of the
            derived ``relative_position_index`` buffers; meta tensors are fine).

    Returns:
        dict[str, Tensor]: every key of ``target`` -> tensor.

    Raises:
        KeyError: listing every official key that could not be placed (unknown name, shape
            mismatch, differing alias copies, derived buffer of another value) and every target
            key left without a tensor.
    """
    problems: List[str] = []
    result: Dict[str, Tensor] = {}
    backbone = {
        k[len(BACKBONE_PREFIX):]: v
        for k, v in official.items() if k.startswith(BACKBONE_PREFIX)
    }
    placed = [(ours, key, value) for ours, (key, value) in _swin_to_ours(backbone).items()]
    placed += [(official_to_ours_key(k), k, v) for k, v in official.items()
               if not k.startswith(BACKBONE_PREFIX)]
    for ours, key, value in placed:
        if ours not in target:
            problems.append(f'{key}: no such parameter here ({ours})')
        elif tuple(target[ours].shape) != tuple(value.shape):
            problems.append(f'{key}: shape {tuple(value.shape)} != ours '
                            f'{tuple(target[ours].shape)} ({ours})')
        elif ours.endswith('relative_position_index') and not _same(target[ours], value):
            problems.append(f'{key}: derived buffer differs from ours ({ours})')
        else:
            result[ours] = value
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
    problems.extend(f'{key}: not provided by the official state dict (ours)' for key in target
                    if key not in result)
    if problems:
        raise KeyError('official unipose state dict does not fit OfficialUniPoseDecoder:\n  ' +
                       '\n  '.join(problems))
    return result
