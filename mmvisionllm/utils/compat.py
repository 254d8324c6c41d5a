"""Compatibility shims between MMEngine 0.10.7 and torch >= 2.6.

torch 2.6 made ``torch.load(..., weights_only=True)`` the default. MMEngine 0.10.7 calls
``torch.load`` without that argument when it loads and resumes checkpoints, and its checkpoints
pickle a few non-tensor objects, so every resume fails with
``UnpicklingError: Weights only load failed``:

* ``HistoryBuffer`` objects of the message hub, whose ``__getstate__`` also pickles its class-level
  table of statistics functions (``HistoryBuffer.min`` ...) as ``getattr(HistoryBuffer, 'min')``;
* numpy arrays, dtypes and scalars in the logged history and runtime info;
* ``collections.Counter`` (milestones of ``MultiStepLR``).

Trust model: we keep ``weights_only=True`` and only *allow-list* the exact data types MMEngine
itself writes (``torch.serialization.add_safe_globals``). ``getattr`` is deliberately NOT
allow-listed — it would let a crafted file reach arbitrary attributes — so instead
``HistoryBuffer.__getstate__`` is made to leave out the default statistics functions, which
``HistoryBuffer.__setstate__`` re-registers anyway. Checkpoints written with mmvisionllm imported
therefore load with ``weights_only=True``; a file that pickles anything else (classes, callables:
what makes unpickling run code) is still refused. We never set ``weights_only=False`` globally. A
trusted checkpoint written by plain MMEngine (with the ``getattr`` entries) can be converted once
with an explicit ``torch.load(path, weights_only=False)`` + ``torch.save`` by the user who vouches
for the file.
"""
import collections
from typing import List

import numpy as np
import torch

_applied = False

DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def mmengine_checkpoint_types() -> List[object]:
    """The non-tensor data types found in MMEngine checkpoints (message hub, schedulers, meta)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    types = [
        HistoryBuffer, collections.Counter, np.ndarray, np.dtype, np.core.multiarray._reconstruct,
        np.core.multiarray.scalar
    ]
    # numpy >= 1.25 pickles dtypes through per-dtype classes (np.dtypes.Float64DType, ...).
    dtypes_module = getattr(np, 'dtypes', None)
    if dtypes_module is not None:
        types += [
            getattr(dtypes_module, name) for name in dir(dtypes_module) if name.endswith('DType')
        ]
    return types


def _history_buffer_getstate(self) -> dict:
    """``HistoryBuffer.__getstate__`` without the default statistics functions (see module doc)."""
    state = dict(self.__dict__)
    custom = {
        name: fn
        for name, fn in type(self)._statistics_methods.items() if name not in DEFAULT_STATISTICS
    }
    if custom:
        state['statistics_methods'] = custom
    return state


def allow_mmengine_checkpoint_types() -> None:
    """Make MMEngine checkpoints save and load under ``weights_only=True``. Idempotent."""
    global _applied
    if _applied:
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(mmengine_checkpoint_types())
    from .weights_only_loader import register_weights_only_loader
    register_weights_only_loader()  # TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD cannot turn it off
    _applied = True
