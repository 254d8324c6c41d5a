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
"""
from typing import List

import torch
import torch.distributed as torch_dist
from mmengine.optim import OptimWrapper

from mmvisionllm.registry import OPTIM_WRAPPERS
from mmvisionllm.utils.dist_compat import is_multi_process

__all__ = ['ShardedGradClipOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class ShardedGradClipOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``clip_grad=dict(max_norm=...)`` clips by the all-rank norm."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.clip_grad_kwargs and (self.grad_name != 'grad_norm'
                                      or float(self.clip_grad_kwargs.get('norm_type', 2.0)) != 2.0):
            raise ValueError('ShardedGradClipOptimWrapper clips by the L2 norm only '
                             f'(clip_grad={self.clip_grad_kwargs})')

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
