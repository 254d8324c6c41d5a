"""Which tensors of a model are *base weights*: frozen, and read again from a local folder.

An adapter-style checkpoint (what xtuner and peft users expect) holds what trains and leaves out
what the model rebuilds from the ``save_pretrained`` folders it was built from: the frozen CLIP
tower, the frozen LLM under LoRA, the frozen VAE/text encoder of a diffusion decoder. This module
decides which tensors those are; :class:`~mmvisionllm.engine.hooks.AdapterCheckpointHook` strips
them when a checkpoint is saved and puts them back when one is loaded.

A tensor is a base weight when all of these hold:

* it lies in a sub-module loaded with ``from_pretrained`` from a local directory (a transformers
  ``PreTrainedModel`` or a diffusers ``ModelMixin`` whose ``config._name_or_path`` is a directory:
  HF writes the path there, a random-init model has ``''``);
* it does not train: a parameter with ``requires_grad=False``, or a buffer of a module none of whose
  parameters trains;
* it is not an adapter's tensor (peft's ``lora_*``, ``trainable_tokens_*``, ``modules_to_save``):
  those start random or at zero and are saved whatever their state.

Rows that mmvisionllm adds to a loaded embedding (special tokens, mean-initialised) are rebuilt the
same way at every build, so a frozen embedding stays a base weight. Reused: ``nn.Module`` traversal
and HF's own record of the folder; nothing in mmengine or peft decides this (peft's
``get_peft_model_state_dict`` knows only its adapters, not the projector or the decoders).
"""
import os.path as osp
from typing import Dict, Iterator, Optional, Set, Tuple

import torch
from torch import nn

__all__ = [
    'base_sources', 'base_weight_names', 'strip_base_weights', 'restore_base_weights',
    'ADAPTER_NAME_PARTS', 'ADAPTER_META_KEY'
]

ADAPTER_META_KEY = 'adapter_checkpoint'

ADAPTER_NAME_PARTS = ('lora_', 'trainable_tokens_', 'modules_to_save')


def _source_of(module: nn.Module) -> str:
    config = getattr(module, 'config', None)
    path = getattr(config, '_name_or_path', '') if config is not None else ''
    if not path and isinstance(config, dict):  # diffusers' FrozenDict config
        path = config.get('_name_or_path', '')
    return path if isinstance(path, str) and path and osp.isdir(path) else ''


def _loaded_modules(model: nn.Module) -> Iterator[Tuple[str, nn.Module, str]]:
    """(prefix, module, folder) of the outermost sub-modules loaded from a local folder."""
    taken: Set[str] = set()
    for name, module in model.named_modules():
        if any(name == t or name.startswith(t + '.') for t in taken):
            continue
        source = _source_of(module)
        if source:
            taken.add(name)
            yield name, module, source


def base_sources(model: nn.Module) -> Dict[str, str]:
    """Module name -> the local folder it was loaded from (absolute path)."""
    return {name: osp.abspath(source) for name, _, source in _loaded_modules(model)}


def base_weight_names(model: nn.Module) -> Set[str]:
    """Names (as in ``model.state_dict()``) of the base weights of ``model`` (see module doc)."""
    names: Set[str] = set()
    for prefix, module, _ in _loaded_modules(model):
        head = prefix + '.' if prefix else ''
        for name, param in module.named_parameters(remove_duplicate=False):
            if not param.requires_grad and not any(p in name for p in ADAPTER_NAME_PARTS):
                names.add(head + name)
        trains = {id(m) for m in module.modules() if any(p.requires_grad for p in m.parameters())}
        for mod_name, sub in module.named_modules():
            if id(sub) in trains:
                continue
            for buf_name in sub._buffers:
                if sub._buffers[buf_name] is not None \
                        and buf_name not in sub._non_persistent_buffers_set:
                    names.add(head + (mod_name + '.' if mod_name else '') + buf_name)
    state_keys = set(model.state_dict().keys())
    return names & state_keys


def strip_base_weights(model: nn.Module, checkpoint: dict, keep: Optional[Set[str]] = None) -> list:
    """Remove the base weights of ``model`` from ``checkpoint['state_dict']`` (in place) and record
    what was removed and the folders that give it back in ``checkpoint['meta']``.

    Args:
        model (nn.Module): The (unwrapped) model the checkpoint was taken from.
        checkpoint (dict): An mmengine checkpoint (``state_dict``, ``meta``, ...).
        keep (set[str], optional): Base-weight names to keep anyway (their values came from another
            checkpoint, not from the folder; see :func:`restore_base_weights`).

    Returns:
        list[str]: The removed names, sorted.
    """
    state_dict = checkpoint['state_dict']
    removed = sorted(k for k in base_weight_names(model) - set(keep or ()) if k in state_dict)
    for key in removed:
        del state_dict[key]
    meta = checkpoint.setdefault('meta', {})
    meta[ADAPTER_META_KEY] = dict(base_sources=base_sources(model), stripped=removed)
    return removed


def restore_base_weights(model: nn.Module, checkpoint: dict, logger=None) -> Set[str]:
    """Fill the base weights an adapter checkpoint left out from ``model`` (built from the same
    folders), so that the checkpoint loads strictly; find the base weights whose values the
    checkpoint changes.

    Args:
        model (nn.Module): The (unwrapped) model about to load ``checkpoint``.
        checkpoint (dict): The loaded checkpoint; its ``state_dict`` is completed in place.
        logger (optional): Where a differing base folder is reported (``warning``).

    Returns:
        set[str]: Base-weight names whose checkpoint value differs from the folder's (a frozen LLM
        fully trained in an earlier stage): checkpoints saved later must keep them.

    Raises:
        KeyError: If a stripped tensor is not a tensor of ``model`` (another architecture).
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    current = model.state_dict()
    record = (checkpoint.get('meta') or {}).get(ADAPTER_META_KEY)
    stripped = set()
    if record is not None:
        sources = base_sources(model)
        for name, path in record['base_sources'].items():
            if sources.get(name) != path and logger is not None:
                logger.warning(f'adapter checkpoint: {name!r} was trained from {path!r}, this '
                               f'model loads it from {sources.get(name)!r}; its frozen weights '
                               'come from the latter')
        for key in record['stripped']:
            if key not in current:
                raise KeyError(f'adapter checkpoint: the base weight {key!r} it left out is not a '
                               'tensor of this model (built from another config?)')
            if key not in state_dict:
                state_dict[key] = current[key]
                stripped.add(key)
    differs = set()
    for key in base_weight_names(model) - stripped:
        value = state_dict.get(key)
        if value is None or value.shape != current[key].shape:
            continue
        if not torch.equal(value.to(current[key].device, current[key].dtype), current[key]):
            differs.add(key)
    return differs
