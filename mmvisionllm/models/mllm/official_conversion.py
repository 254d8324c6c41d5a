"""Mapping an official VisionLLM v2 state dict (OpenGVLab/VisionLLM, ``VisionLLMv2/``) onto ours.

The official model names its parts ``vis_encoder`` (HF ``CLIPVisionModel``), ``vl_bridge`` (an
``nn.Sequential`` Linear-GELU-Linear), ``llm`` (HF ``LlamaForCausalLM``, optionally wrapped by
peft LoRA), ``region_encoder``, ``emb_embeddings_{det,pose,gen,edit}`` (the query tables; det/grd/
seg share the det one) and the tools ``gdino``, ``unipose``, ``sd``, ``ip2p``. The core parts are
renamed here; every other prefix is handed, with the prefix stripped, to the
``convert_official_state_dict`` method of the module that takes its place in our model (the
region encoder, the decoders), which
returns names relative to that module and raises naming every official key it cannot place.

Reused: safetensors' ``load_file`` and ``torch.load`` to read the shards (the HF index file names
them); the LoRA fold is the formula peft's ``merge_and_unload`` applies
(``W + scaling * B @ A``, ``scaling = lora_alpha / r``), written out on plain tensors because the
official LLM is not built here (a 7B peft model would have to be materialised just to merge).
"""
import fnmatch
import glob
import json
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

__all__ = [
    'OFFICIAL_PARTS', 'OFFICIAL_QUERY_TABLES', 'RECOMPUTED_BUFFERS', 'read_official_folder',
    'merge_official_lora', 'convert_core_key', 'convert_official_state_dict',
    'OfficialConversionError'
]

#: Official prefix -> (our module path, the work item that provides its official-compatible
#: module). The module there implements ``convert_official_state_dict``.
OFFICIAL_PARTS: Dict[str, Tuple[str, str]] = OrderedDict([
    ('region_encoder.', ('region_encoder', 'the official region encoder (OfficialRegionEncoder)')),
    ('gdino.', ('decoders.det', 'the Grounding-DINO-compatible detector '
                '(OfficialGroundingDinoDecoder)')),
    ('unipose.', ('decoders.pose', 'the UniPose-compatible pose decoder')),
    ('sd.', ('decoders.gen', 'the SD mapper / text-to-image decoder (OfficialTextToImageDecoder)')),
    ('ip2p.', ('decoders.edit', 'the InstructPix2Pix decoder (OfficialInstructEditDecoder)')),
])
#: Official query table -> our query-table group.
OFFICIAL_QUERY_TABLES = OrderedDict(
    emb_embeddings_det='det',
    emb_embeddings_pose='pose',
    emb_embeddings_gen='gen',
    emb_embeddings_edit='edit')

#: Buffers some transformers versions save that ours recompute (LLaMA rotary frequencies, CLIP
#: position ids): dropped, never an error.
RECOMPUTED_BUFFERS = ('llm.*.rotary_emb.inv_freq', 'llm.*.rotary_emb.cos_cached',
                      'llm.*.rotary_emb.sin_cached', 'vis_encoder.*.embeddings.position_ids')

_LORA = re.compile(r'^(?P<module>.+)\.lora_(?P<which>[AB])(?:\.(?P<adapter>[^.]+))?\.weight$')


class OfficialConversionError(ValueError):
    """An official checkpoint that does not map completely onto the model."""


def _load_weight_file(path: str) -> Dict[str, Tensor]:
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    state = torch.load(path, map_location='cpu', weights_only=True)
    return state.get('state_dict', state) if isinstance(state, dict) else state


def read_official_folder(path: str) -> Tuple[Dict[str, Tensor], dict]:
    """The state dict and ``config.json`` of an official checkpoint folder.

    Reads ``model.safetensors.index.json`` / ``pytorch_model.bin.index.json`` shards, else a single
    ``model.safetensors`` or ``pytorch_model*.bin`` (a path to one weight file also works; its
    folder's ``config.json`` is read when present).

    Returns:
        tuple[dict, dict]: name -> tensor, and the config (empty without ``config.json``).
    """
    folder = path if osp.isdir(path) else osp.dirname(path)
    config = {}
    if osp.isfile(osp.join(folder, 'config.json')):
        with open(osp.join(folder, 'config.json')) as f:
            config = json.load(f)
    if not osp.isdir(path):
        return _load_weight_file(path), config
    for index_name in ('model.safetensors.index.json', 'pytorch_model.bin.index.json'):
        index = osp.join(path, index_name)
        if osp.isfile(index):
            with open(index) as f:
                shards = sorted(set(json.load(f)['weight_map'].values()))
            state: Dict[str, Tensor] = {}
            for shard in shards:
                state.update(_load_weight_file(osp.join(path, shard)))
            return state, config
    files = [osp.join(path, 'model.safetensors')]
    files = [f for f in files if osp.isfile(f)] or sorted(
        glob.glob(osp.join(path, 'pytorch_model*.bin')))
    if not files:
        raise FileNotFoundError(
            f'{path}: no model.safetensors(.index.json) or pytorch_model*.bin(.index.json)')
    state = {}
    for file in files:
        state.update(_load_weight_file(file))
    return state, config


def merge_official_lora(state: Mapping[str, Tensor],
                        lora_alpha: float = 64.,
                        r: Optional[int] = None,
                        prefix: str = 'llm.') -> Dict[str, Tensor]:
    """Fold a peft LoRA of the official LLM into its base weights.

    Handles the names of peft 0.6 (the official pin: ``q_proj.weight`` + ``q_proj.lora_A.default
    .weight``) and of later peft (``q_proj.base_layer.weight``), with or without the adapter
    name; the ``base_model.model.`` wrapper is removed. ``r`` defaults to each pair's rank (the
    rows of ``lora_A``); the official ``wrap_llm_lora`` uses r=32, alpha=64.

    Args:
        state (Mapping[str, Tensor]): The official state dict.
        lora_alpha (float): LoRA alpha.
        r (int, optional): LoRA rank; None reads it from each ``lora_A``.
        prefix (str): The LLM's prefix.

    Returns:
        dict[str, Tensor]: The state dict with plain LLM names and merged weights.
    """
    wrapper = prefix + 'base_model.model.'
    merged: Dict[str, Tensor] = {}
    pairs: Dict[str, Dict[str, Tensor]] = {}
    for key, value in state.items():
        if key.startswith(wrapper):
            key = prefix + key[len(wrapper):]
        match = _LORA.match(key) if key.startswith(prefix) else None
        if match:
            pairs.setdefault(match['module'], {})[match['which']] = value
            continue
        merged[key.replace('.base_layer.', '.')] = value
    for module, pair in pairs.items():
        if set(pair) != {'A', 'B'}:
            raise OfficialConversionError(f'{module}: a LoRA pair needs lora_A and lora_B, found '
                                          f'{sorted(pair)}')
        weight_key = module + '.weight'
        if weight_key not in merged:
            raise OfficialConversionError(f'LoRA of {module} but no base weight {weight_key}')
        a, b = pair['A'].float(), pair['B'].float()
        rank = r or a.shape[0]
        base = merged[weight_key]
        merged[weight_key] = (base.float() + (b @ a) * (lora_alpha / rank)).to(base.dtype)
    return merged


def check_official_config(official_config: Mapping, model: nn.Module) -> List[str]:
    """Settings of the official ``config.json`` that change the numbers without changing a
    shape, compared with ``model``; returns one line per disagreement (empty when they agree).

    Checked: the bridge type (``mlp2x_gelu``, no pixel shuffle), the CLIP layer fed to it
    (``vis_output_layer``), the CLIP activation and LLaMA's ``rms_norm_eps``/``rope_theta``, and
    the query counts (``num_embs``/``num_embs_gen``).
    """
    problems = []

    def expect(what: str, official, ours) -> None:
        if official is not None and official != ours:
            problems.append(f'{what}: official {official!r}, ours {ours!r}')

    expect('vl_bridge_type', official_config.get('vl_bridge_type'), 'mlp2x_gelu')
    expect('use_pixelshuffle', official_config.get('use_pixelshuffle'), False)
    expect('vis_output_layer (our vision_encoder.select_layer)',
           official_config.get('vis_output_layer'), model.vision_encoder.select_layer)
    vision = official_config.get('vis_encoder_config') or {}
    expect('vis_encoder_config.hidden_act', vision.get('hidden_act'),
           model.vision_encoder.clip.config.hidden_act)
    llm = official_config.get('llm_config') or {}
    llm_config = model.llm.model.config
    for key in ('rms_norm_eps', 'rope_theta'):
        ours = getattr(llm_config, key, None)
        if ours is None and key == 'rope_theta':  # transformers 5 keeps it in rope_parameters
            ours = (getattr(llm_config, 'rope_parameters', None) or {}).get('rope_theta')
        expect(f'llm_config.{key}', llm.get(key), ours)
    tables = getattr(model.super_link, 'query_tables', {})
    for key, group in (('num_embs', 'det'), ('num_embs', 'pose'), ('num_embs_gen', 'gen'),
                       ('num_embs_gen', 'edit')):
        if group in tables:
            expect(f'{key} (query table {group})', official_config.get(key),
                   tables[group].num_embeddings)
    return problems


def _first_existing(candidates: Iterable[str], target: Mapping[str, object]) -> Optional[str]:
    candidates = list(candidates)
    return next((c for c in candidates if c in target), candidates[0] if candidates else None)


def convert_core_key(key: str, target: Mapping[str, object]) -> Optional[str]:
    """Our name of an official core tensor (vision tower, bridge, LLM, query tables), or None when
    ``key`` is not a core tensor.

    Args:
        key (str): Official name, e.g. ``vis_encoder.vision_model.pre_layrnorm.weight``.
        target (Mapping[str, object]): Our model's state-dict names (to choose between the layouts
            of HF versions: ``CLIPVisionModel`` keeps or drops ``vision_model.``).
    """
    if key.startswith('vis_encoder.'):
        rest = key[len('vis_encoder.'):]
        plain = rest[len('vision_model.'):] if rest.startswith('vision_model.') else rest
        return _first_existing(
            ['vision_encoder.clip.' + plain, 'vision_encoder.clip.vision_model.' + plain], target)
    match = re.match(r'^vl_bridge\.(\d+)\.(weight|bias)$', key)
    if match:
        return f'projector.layers.{match[1]}.{match[2]}'
    if key.startswith('llm.'):
        return 'llm.model.' + key[len('llm.'):]
    table = key.split('.', 1)[0]
    if table in OFFICIAL_QUERY_TABLES and key == table + '.weight':
        return f'super_link.query_tables.{OFFICIAL_QUERY_TABLES[table]}.weight'
    return None


def _module_at(model: nn.Module, path: str) -> Optional[nn.Module]:
    module = model
    for name in path.split('.'):
        module = getattr(module, name, None)  # ModuleDict children are attributes too
        if module is None:
            return None
    return module


def _matches(key: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def convert_official_state_dict(model: nn.Module,
                                official: Mapping[str, Tensor],
                                skip: Sequence[str] = (),
                                target: Optional[Mapping[str, Tensor]] = None) -> Dict[str, Tensor]:
    """Our state dict for ``model`` from an official one (LoRA already merged).

    Every official tensor is placed (core names here, the others by their part's
    ``convert_official_state_dict``) and every tensor of ``model`` must receive one, with its
    shape; the only exception is the ``token_vocabulary`` buffer, which is the model's own.
    Buffers ours recompute (``RECOMPUTED_BUFFERS``) are dropped.

    Args:
        model (nn.Module): Our ``VisionLLMv2`` (may live on the meta device).
        official (Mapping[str, Tensor]): The official state dict.
        skip (Sequence[str]): ``fnmatch`` patterns of official names that may stay unplaced, and
            of our names that may stay without a tensor.
        target (Mapping[str, Tensor], optional): ``model.state_dict()`` when already computed.

    Returns:
        dict[str, Tensor]: Our names -> tensors (dtypes as in the official checkpoint).

    Raises:
        OfficialConversionError: Naming every unplaced official tensor, every tensor of ours
            without a source and every shape mismatch (and the part that would place them).
    """
    target = model.state_dict() if target is None else target
    converted: Dict[str, Tensor] = {}
    source_of: Dict[str, str] = {}
    problems: List[str] = []
    unplaced: List[str] = []
    by_part: Dict[str, Dict[str, Tensor]] = {p: {} for p in OFFICIAL_PARTS}
    for key, value in official.items():
        if _matches(key, RECOMPUTED_BUFFERS):
            continue
        part = next((p for p in OFFICIAL_PARTS if key.startswith(p)), None)
        if part is not None:
            by_part[part][key[len(part):]] = value
            continue
        ours = convert_core_key(key, target)
        if ours is None:
            unplaced.append(key)
            continue
        converted[ours] = value
        source_of[ours] = key
    for part, tensors in by_part.items():
        if not tensors:
            continue
        path, provider = OFFICIAL_PARTS[part]
        names = sorted(part + k for k in tensors)
        if all(_matches(n, skip) for n in names):
            continue
        module = _module_at(model, path)
        if module is None:
            problems.append(f'{len(names)} official {part}* tensors have no place: the model has '
                            f'no {path} (configure {provider}, or pass --skip "{part}*")')
            continue
        convert = getattr(module, 'convert_official_state_dict', None)
        if convert is None:
            problems.append(
                f'{len(names)} official {part}* tensors: {path} is a {type(module).__name__}, '
                f'which has no convert_official_state_dict; {provider} is not available in this '
                f'install (or pass --skip "{part}*")')
            continue
        kept = {k: v for k, v in tensors.items() if not _matches(part + k, skip)}
        try:
            mapped = convert(kept)
        except (KeyError, ValueError) as error:
            problems.append(f'{part}* ({type(module).__name__}): {error}')
            continue
        for name, value in mapped.items():
            converted[f'{path}.{name}'] = value
            source_of[f'{path}.{name}'] = f'{part}*'
    unplaced = [k for k in unplaced if not _matches(k, skip)]
    if unplaced:
        problems.append(f'{len(unplaced)} official tensors match no part: ' + ', '.join(unplaced))
    from .vocabulary_extension import VOCABULARY_KEY
    for name, value in converted.items():
        if name not in target:
            problems.append(f'{source_of[name]} -> {name}: the model has no such tensor')
        elif tuple(value.shape) != tuple(target[name].shape):
            problems.append(f'{source_of[name]} -> {name}: shape {tuple(value.shape)} but the '
                            f'model has {tuple(target[name].shape)}')
    missing = [
        k for k in target if k not in converted and k != VOCABULARY_KEY and not _matches(k, skip)
    ]
    if missing:
        problems.append(f'{len(missing)} tensors of the model get no official tensor: ' +
                        ', '.join(missing))
    if problems:
        raise OfficialConversionError('the official checkpoint does not map onto the model:\n  ' +
                                      '\n  '.join(problems))
    return converted
