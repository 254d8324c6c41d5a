"""Checked checkpoint loading: a checkpoint that loads nothing, or not all of a model it must
fill, is an error instead of a warning.

MMEngine loads every checkpoint with ``strict=False`` and reports missing/unexpected keys and even
shape mismatches only as a logged warning, so ``tools/test.py`` scored a random model when given
``{'state_dict': {}}`` or a file whose keys all carry an extra ``model.`` prefix. The rules here:

* always: a checkpoint none of whose tensors names a tensor of the model is refused, and so is a
  tensor whose shape differs from the model's (``torch.nn.Module.load_state_dict`` raises for it);
* strict (resuming, testing, validating): every model tensor must come from the checkpoint and
  every checkpoint tensor must be used;
* not strict (``load_from`` of a training run: the previous stage's checkpoint, which lacks the
  new components and may hold ones this stage drops, e.g. stage 0's tag head): the loaded, missing
  and unused tensors are counted per top-level component in one warning.

We compare through the model's own ``load_state_dict`` (so key remapping hooks, e.g. of the LoRA
wrapper, apply) rather than by string matching; the key revision (``module.`` prefix) is
MMEngine's.
"""
import logging
import re
from collections import Counter, OrderedDict
from typing import Dict, Iterable, List, Sequence, Tuple

from mmengine.logging import print_log
from torch import nn

__all__ = ['CheckpointMismatchError', 'load_checked_state_dict']


class CheckpointMismatchError(RuntimeError):
    """A checkpoint does not fit the model it is loaded into."""


def _by_component(keys: Iterable[str]) -> Dict[str, int]:
    """Count keys per first name component (``decoders.det`` for decoders, else the first)."""
    counts: Counter = Counter()
    for key in keys:
        parts = key.split('.')
        counts['.'.join(parts[:2]) if parts[0] == 'decoders' else parts[0]] += 1
    return dict(sorted(counts.items()))


def _examples(keys: Sequence[str], n: int = 3) -> str:
    keys = list(keys)
    return ', '.join(keys[:n]) + (f' ... ({len(keys)} in all)' if len(keys) > n else '')


def _revised_state_dict(checkpoint: dict, revise_keys: List[Tuple[str, str]]) -> OrderedDict:
    state_dict = checkpoint['state_dict'] if 'state_dict' in checkpoint else checkpoint
    metadata = getattr(state_dict, '_metadata', OrderedDict())
    for pattern, replacement in revise_keys:
        state_dict = OrderedDict({
            re.sub(pattern, replacement, k): v
            for k, v in state_dict.items()
        })
    state_dict._metadata = metadata
    return state_dict


def load_checked_state_dict(model: nn.Module,
                            checkpoint: dict,
                            filename: str,
                            strict: bool,
                            revise_keys: List[Tuple[str, str]] = [(r'^module\.', '')]) -> None:
    """Load ``checkpoint`` into ``model`` under the rules of the module docstring.

    Args:
        model (nn.Module): The (unwrapped) model.
        checkpoint (dict): A loaded checkpoint (``{'state_dict': ...}`` or a bare state dict).
        filename (str): Its file, for the messages.
        strict (bool): Whether every model and checkpoint tensor must be matched.
        revise_keys (list[tuple[str, str]]): Regex substitutions applied to the checkpoint keys.

    Raises:
        CheckpointMismatchError: When the checkpoint loads nothing, a shape differs, or (strict)
            a tensor is missing on either side.
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(
            f'checkpoint {filename} holds a {type(checkpoint).__name__}, not a state dict')
    state_dict = _revised_state_dict(checkpoint, revise_keys)
    name = type(model).__name__
    if len(state_dict) == 0:
        raise CheckpointMismatchError(f'checkpoint {filename} has no weights (its state_dict is '
                                      f'empty); nothing would be loaded into {name}')
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise CheckpointMismatchError(
            f'checkpoint {filename} does not fit {name}: {error}') from error
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    loaded = len(state_dict) - len(unexpected)
    if loaded == 0:
        model_keys = list(model.state_dict())
        raise CheckpointMismatchError(
            f'checkpoint {filename} loads nothing into {name}: none of its {len(state_dict)} '
            f'tensors is a tensor of the model (checkpoint: {_examples(list(state_dict))}; '
            f'model: {_examples(model_keys)}). Wrong checkpoint, or keys under an extra prefix?')
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f'{len(missing)} model tensor(s) not in the checkpoint '
                         f'{_by_component(missing)} (e.g. {_examples(missing)})')
        if unexpected:
            parts.append(f'{len(unexpected)} checkpoint tensor(s) the model does not have '
                         f'{_by_component(unexpected)} (e.g. {_examples(unexpected)})')
        raise CheckpointMismatchError(
            f'checkpoint {filename} does not match {name}: ' + '; '.join(parts) +
            '. Resuming and testing need the checkpoint of this very model.')
    if missing or unexpected:
        print_log(
            f'load_from {filename}: {loaded} tensor(s) loaded; {len(missing)} model tensor(s) '
            f'keep their initialisation {_by_component(missing)}; {len(unexpected)} checkpoint '
            f'tensor(s) unused {_by_component(unexpected)}',
            logger='current',
            level=logging.WARNING)
