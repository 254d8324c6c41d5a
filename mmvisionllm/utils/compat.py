"""Compatibility shims between MMEngine 0.10.7 and torch >= 2.6.

torch 2.6 made ``torch.load(..., weights_only=True)`` the default. MMEngine 0.10.7 calls ``torch.load``
without that argument when it loads and resumes checkpoints, and its checkpoints pickle a few
non-tensor objects (``HistoryBuffer`` in the message hub, numpy arrays and scalars in the logged
history), so every resume fails with ``UnpicklingError: Weights only load failed``.

Trust model: we keep ``weights_only=True`` and only *allow-list* the exact types MMEngine itself writes
into its checkpoints (via ``torch.serialization.add_safe_globals``). A checkpoint that pickles anything
else — arbitrary classes or callables, i.e. the objects that make unpickling execute code — is still
refused by torch. We never set ``weights_only=False`` globally. Loading a trusted third-party checkpoint
with other pickled objects needs an explicit, local ``torch.load(path, weights_only=False)`` by the
caller, who then vouches for the file.
"""
from typing import List

import numpy as np
import torch

_registered = False


def mmengine_checkpoint_types() -> List[object]:
    """The non-tensor types found in MMEngine checkpoints (state dicts, message hub, meta)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    types = [HistoryBuffer, np.ndarray, np.dtype, np.core.multiarray._reconstruct,
             np.core.multiarray.scalar]
    # numpy >= 1.25 pickles dtypes through per-dtype classes (np.dtypes.Float64DType, ...).
    dtypes_module = getattr(np, 'dtypes', None)
    if dtypes_module is not None:
        types += [getattr(dtypes_module, name) for name in dir(dtypes_module)
                  if name.endswith('DType')]
    return types


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list MMEngine's checkpoint types for ``torch.load(weights_only=True)``. Idempotent."""
    global _registered
    if _registered or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(mmengine_checkpoint_types())
    _registered = True
