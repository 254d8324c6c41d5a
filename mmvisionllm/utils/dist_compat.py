"""Distributed training on a CPU (gloo) with MMEngine 0.10.7, and rank-consistency helpers.

MMEngine 0.10.7 assumes a CUDA device wherever it starts several processes:

* ``mmengine.dist.utils._init_dist_pytorch`` calls ``torch.cuda.set_device(LOCAL_RANK)``
  unconditionally (``Runner.setup_env`` and every ``FlexibleRunner`` strategy go through it), which
  fails without CUDA, and ``init_dist`` defaults to the ``nccl`` backend, which is CUDA-only;
* ``Runner.wrap_model`` and ``DDPStrategy._wrap_model`` pass ``device_ids=[LOCAL_RANK]`` to
  ``MMDistributedDataParallel``; torch's ``DistributedDataParallel`` refuses ``device_ids`` for a
  module on the CPU;
* ``FSDPStrategy._wrap_model`` passes ``device_id=LOCAL_RANK`` to ``MMFullyShardedDataParallel``,
  which torch reads as a CUDA index ("Cannot access accelerator device");
* (on every device) ``DeepSpeedStrategy.__init__`` registers DeepSpeed's optimizers and imports
  ``deepspeed.runtime.fp16.onebit``, which DeepSpeed >= 0.17 removed; the patch registers those
  that the installed DeepSpeed has;
* (on every device) ``FSDPStrategy.load_optim_state_dict`` calls
  ``FSDP.optim_state_dict_to_load(state_dict, model, optimizer)``, the argument order of torch
  2.0; torch >= 2.1 takes ``(model, optim, optim_state_dict)``, so every FSDP resume fails with
  "unhashable type: 'dict'". The patch passes them by keyword.

:func:`apply_dist_compat` (called by ``register_all_modules``, hence by ``tools/train.py`` and
``tools/test.py``) patches exactly these places and nothing else, so no user has to patch
MMEngine:

* the backend follows the device: ``dist_cfg=dict(backend='auto')`` (what
  ``configs/_base_/default_runtime.py`` sets) or no backend at all gives ``nccl`` when CUDA is
  available and ``gloo`` otherwise; an explicit ``nccl`` on a machine without CUDA is an error
  that says so (instead of torch's "ProcessGroupNCCL is only supported with GPUs");
* ``torch.cuda.set_device`` is called only when CUDA is available;
* ``device_ids`` (DDP) / ``device_id`` (FSDP) are dropped when the module lives on the CPU, the
  only case in which torch refuses them. On CUDA everything is as in MMEngine.

Why patch rather than subclass: the calls sit inside MMEngine's ``Runner.setup_env``,
``Runner.wrap_model`` and the strategies' private ``_setup_distributed``/``_wrap_model``; a
registered model wrapper alone cannot stop ``torch.cuda.set_device`` or fix the backend, and
subclassing ``Runner`` would make every config name a project runner. The patched functions keep
MMEngine's signatures and fall back to the original code on CUDA/MLU/NPU machines.

Rank consistency: :func:`is_multi_process` tells a loss whether it runs in a process group of
more than one rank; the decoders take their rank-uniform path only then (in one process the
numerics stay exactly as before).
"""
import functools
import os

import torch
import torch.distributed as torch_dist

__all__ = ['apply_dist_compat', 'default_backend', 'is_multi_process', 'check_same_on_all_ranks']

_applied = False


def default_backend() -> str:
    """``nccl`` where CUDA is available, ``gloo`` otherwise."""
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def is_multi_process() -> bool:
    """Whether a ``torch.distributed`` process group of more than one rank is initialised."""
    return (torch_dist.is_available() and torch_dist.is_initialized()
            and torch_dist.get_world_size() > 1)


def _resolve_backend(backend) -> str:
    if backend in (None, 'auto'):
        return default_backend()
    if backend == 'nccl' and not torch.cuda.is_available():
        raise RuntimeError("dist_cfg.backend='nccl' needs CUDA, which this machine lacks; use "
                           "backend='auto' (nccl with CUDA, gloo without) or 'gloo'")
    return backend


def _init_dist_pytorch_any_device(original, backend='auto', init_backend='torch', **kwargs):
    """MMEngine's ``_init_dist_pytorch`` without ``torch.cuda.set_device`` on a CPU machine."""
    backend = _resolve_backend(backend)
    if torch.cuda.is_available() or init_backend not in ('torch', 'deepspeed'):
        return original(backend, init_backend=init_backend, **kwargs)
    from mmengine.device import is_mlu_available, is_musa_available, is_npu_available
    if is_mlu_available() or is_npu_available() or is_musa_available():
        return original(backend, init_backend=init_backend, **kwargs)
    if init_backend == 'deepspeed':
        import deepspeed
        deepspeed.init_distributed(dist_backend=backend, **kwargs)
    else:
        torch_dist.init_process_group(backend=backend, **kwargs)


def _on_cpu(module: torch.nn.Module) -> bool:
    tensors = list(module.parameters()) + list(module.buffers())
    return bool(tensors) and all(t.device.type == 'cpu' for t in tensors)


def _patch_ddp() -> None:
    from mmengine.model.wrappers import MMDistributedDataParallel
    original = MMDistributedDataParallel.__init__

    @functools.wraps(original)
    def __init__(self, module, *args, **kwargs):
        if _on_cpu(module):
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        original(self, module, *args, **kwargs)

    MMDistributedDataParallel.__init__ = __init__


def _patch_fsdp() -> None:
    try:
        from mmengine.model.wrappers import MMFullyShardedDataParallel
    except ImportError:  # torch without FSDP
        return
    original = MMFullyShardedDataParallel.__init__

    @functools.wraps(original)
    def __init__(self, module, *args, **kwargs):
        if not torch.cuda.is_available() and isinstance(kwargs.get('device_id'), int):
            kwargs['device_id'] = torch.device('cpu')
        original(self, module, *args, **kwargs)

    MMFullyShardedDataParallel.__init__ = __init__


def _patch_fsdp_resume() -> None:
    try:
        from mmengine._strategy import FSDPStrategy
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    except ImportError:
        return

    def load_optim_state_dict(self, state_dict: dict) -> None:
        """MMEngine's ``load_optim_state_dict`` with torch >= 2.1's argument order."""
        optim_state_dict = FSDP.optim_state_dict_to_load(
            model=self.model, optim=self.optim_wrapper.optimizer, optim_state_dict=state_dict)
        self.optim_wrapper.load_state_dict(optim_state_dict)

    FSDPStrategy.load_optim_state_dict = load_optim_state_dict


def _register_deepspeed_optimizers() -> list:
    """MMEngine's ``register_deepspeed_optimizers`` for the DeepSpeed that is installed."""
    import importlib

    from mmengine.registry import OPTIMIZERS
    registered = []
    for module_name, names in (('deepspeed.ops.adam', ('DeepSpeedCPUAdam', 'FusedAdam')),
                               ('deepspeed.ops.lamb',
                                ('FusedLamb', )), ('deepspeed.runtime.fp16.onebit',
                                                   ('OnebitAdam', 'OnebitLamb', 'ZeroOneAdam'))):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in names:
            if hasattr(module, name) and name not in OPTIMIZERS:
                OPTIMIZERS.register_module(module=getattr(module, name))
            if name in OPTIMIZERS:
                registered.append(name)
    return registered


def _patch_deepspeed_optimizers() -> None:
    try:
        import mmengine._strategy.deepspeed as ds_strategy
    except ImportError:
        return
    ds_strategy.register_deepspeed_optimizers = _register_deepspeed_optimizers


def apply_dist_compat() -> None:
    """Patch MMEngine's process-group start and model wrappers for CPU machines. Idempotent."""
    global _applied
    if _applied:
        return
    import mmengine.dist.utils as dist_utils
    original = dist_utils._init_dist_pytorch
    dist_utils._init_dist_pytorch = functools.partial(_init_dist_pytorch_any_device, original)
    _patch_ddp()
    _patch_fsdp()
    _patch_fsdp_resume()
    _patch_deepspeed_optimizers()
    # torchrun sets LOCAL_RANK; tools/train.py's --local_rank fallback sets it too
    os.environ.setdefault('LOCAL_RANK', '0')
    _applied = True


def check_same_on_all_ranks(values, what: str) -> None:
    """Raise on every rank (instead of hanging on a collective) when ranks disagree.

    Args:
        values (Sequence[int]): small non-negative integers this rank holds, e.g. a presence flag
            per decoder group; every rank must pass the same length.
        what (str): what the values are, for the error message.
    """
    if not is_multi_process():
        return
    device = 'cuda' if torch_dist.get_backend() == 'nccl' else 'cpu'
    mine = torch.tensor(list(values), dtype=torch.long, device=device)
    low, high = mine.clone(), mine.clone()
    torch_dist.all_reduce(low, op=torch_dist.ReduceOp.MIN)
    torch_dist.all_reduce(high, op=torch_dist.ReduceOp.MAX)
    if not torch.equal(low, high):
        raise RuntimeError(f'rank {torch_dist.get_rank()}: the ranks disagree on {what} '
                           f'(this rank {mine.tolist()}, min {low.tolist()}, max '
                           f'{high.tolist()}); their collectives would not match. Use a batch '
                           'sampler that gives every rank the same decoder group at each step '
                           '(TaskGroupedBatchSampler)')
