"""Local checkpoints are always read with ``torch.load(..., weights_only=True)``.

MMEngine 0.10.7's local loader calls ``torch.load(filename, map_location=...)`` without
``weights_only``, so the protection rested on torch's default, and torch lets the environment
variable ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` flip that default to ``False`` (it only overrides a
call site that did not pass the argument). We re-register MMEngine's scheme for local paths (the
``''`` prefix of :class:`mmengine.runner.CheckpointLoader`, the one ``load_from``, ``--resume``,
``tools/test.py``, the inferencer and the converter go through) with the argument passed
explicitly, so that the variable cannot turn the protection off; only the data types allow-listed
in :mod:`mmvisionllm.utils.compat` are unpickled.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = ['load_local_weights_only', 'register_weights_only_loader']


def load_local_weights_only(filename: str, map_location=None) -> dict:
    """MMEngine's ``load_from_local`` with ``weights_only=True`` passed explicitly."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=True)


def register_weights_only_loader() -> None:
    """Make :func:`load_local_weights_only` MMEngine's loader of local paths. Idempotent."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_weights_only, force=True)
