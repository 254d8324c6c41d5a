"""Gradient-norm clipping for sharded gradients (FSDP): the norm of the whole model, on every rank.

MMEngine's ``OptimWrapper`` clips with ``torch.nn.utils.clip_grad_norm_`` over the parameters the
optimizer holds. Under FSDP (``use_orig_params=True``) each rank's ``param.grad`` is its shard
only, so every rank computes the norm of its own shard and scales its shard by a different
factor: the update is not the one of the unsharded model (measured on the tiny generalist over
two CPU ranks: parameters 1e-3 away from one process after 4 SGD steps). torch's
``FullyShardedDataParallel.clip_grad_norm_`` needs the FSDP module, which the optimizer wrapper
does not hold, so this wrapper sums the squared shard norms over the ranks itself (one
``all_reduce`` on every rank, also one whose shards got no gradient) and scales every shard by the
same factor, exactly as ``clip_grad_norm_`` (``max_norm / (norm + 1e-6)``, capped at 1).
Only ``type='norm'`` with the L2 norm; with one process it is ``clip_grad_norm_``.

bf16 under FSDP (``dtype='bfloat16'``): the forward runs under ``torch.autocast`` over the fp32
units, entered through ``optim_context``: mmengine's ``MMFullyShardedDataParallel.train_step`` runs
the forward inside it (where mmengine's ``AmpOptimWrapper`` enters its autocast too).
FSDP's ``MixedPrecision(param_dtype=bf16)`` alone casts a unit's parameters, not the tensors the
unit builds inside its forward, so the mmdet decoders (fp32 images into the backbone, fp32
position embeddings and masks in the Grounding DINO encoder) met bf16 weights and failed
(docs/en/distributed.md); autocast casts at each op instead. ``AmpOptimWrapper`` itself cannot
serve: it asserts a GPU, always builds a loss scaler (bf16 needs none) and clips each shard by its
own norm. float16 would need FSDP's ``ShardedGradScaler`` and is refused.
"""
from contextlib import contextmanager
from typing import List, Optional

import torch
import torch.distributed as torch_dist
from mmengine.device import get_device
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast

from mmvisionllm.registry import OPTIM_WRAPPERS
from mmvisionllm.utils.dist_compat import is_multi_process

__all__ = ['ShardedGradClipOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class ShardedGradClipOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``clip_grad=dict(max_norm=...)`` clips by the all-rank norm.

    Args:
        dtype (str, optional): ``'bfloat16'``: the forward runs under bf16 autocast (see the module
            docstring). None: no autocast.
        *args, **kwargs: Arguments of ``OptimWrapper`` (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, *args, dtype: Optional[str] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            raise ValueError(f'ShardedGradClipOptimWrapper(dtype={dtype!r}): only bfloat16 '
                             'autocast (float16 needs a loss scaler)')
        self.cast_dtype = None if dtype is None else torch.bfloat16
        if self.clip_grad_kwargs and (self.grad_name != 'grad_norm'
                                      or float(self.clip_grad_kwargs.get('norm_type', 2.0)) != 2.0):
            raise ValueError('ShardedGradClipOptimWrapper clips by the L2 norm only '
                             f'(clip_grad={self.clip_grad_kwargs})')

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        """``OptimWrapper``'s context (gradient accumulation), under bf16 autocast if asked."""
        with super().optim_context(model):
            if self.cast_dtype is None:
                yield
                return
            with autocast(device_type=get_device(), dtype=self.cast_dtype):
                yield

    def _clip_grad(self) -> None:
        if not is_multi_process():
            return super()._clip_grad()
        params: List[torch.Tensor] = [
            p for group in self.optimizer.param_groups for p in group['params']
            if p.requires_grad and p.grad is not None
        ]
        device = 'cuda' if torch_dist.get_backend() == 'nccl' else 'cpu'
        squared = torch.zeros((), dtype=torch.float64, device=device)
        for p in params:
            squared += p.grad.detach().double().pow(2).sum().to(device)
        torch_dist.all_reduce(squared)
        norm = squared.sqrt()
        scale = (float(self.clip_grad_kwargs['max_norm']) / (norm + 1e-6)).clamp(max=1.0)
        for p in params:
            p.grad.detach().mul_(scale.to(p.grad.device, p.grad.dtype))
        self.message_hub.update_scalar(f'train/{self.grad_name}', float(norm))
