"""Test-only pieces of the multi-process tests (found through ``custom_imports``).

* :class:`FixedGlobalBatchSampler`: the same global batches whatever the world size; rank r of w
  takes the r-th of w equal slices of each. One process with ``batch_size = w * b`` therefore
  trains on exactly the global batches of w ranks with ``batch_size = b``.
* :class:`FixedPointsMaskHead`: ``DETRMaskHead`` whose random point sets (matching and loss) are
  drawn from a generator seeded afresh at each call, so they depend on neither the process nor
  what the global RNG drew before; the comparison of one and two processes then isolates the
  distributed arithmetic (collectives, normalisation, gradient averaging).
* :class:`DumpParamsHook`: every rank writes its parameters (whole: ZeRO-3's and FSDP's shards
  are gathered)
  before and after training to ``<work_dir>/init_rank<r>.pth`` and
  ``<work_dir>/params_rank<r>.pth``; one process also writes
  its initial weights as a checkpoint (``init_checkpoint.pth``) that FlexibleRunner runs load
  (their strategies initialise the model from another point of the RNG stream).
"""
import os.path as osp
from typing import Iterator, List, Sequence

import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from torch.utils.data import Sampler

from mmvisionllm.models.decoders.detection.mask_head import DETRMaskHead
from mmvisionllm.registry import DATA_SAMPLERS, HOOKS, MODELS


@DATA_SAMPLERS.register_module()
class FixedGlobalBatchSampler(Sampler):
    """Cycle through ``global_batches``; each rank takes its slice of ``batch_size`` indices."""

    def __init__(self, sampler: Sampler, batch_size: int,
                 global_batches: Sequence[Sequence[int]]) -> None:
        self.sampler = sampler  # DistSamplerSeedHook reaches it through the batch sampler
        self.rank, self.world_size = get_dist_info()
        self.batch_size = batch_size
        for batch in global_batches:
            if len(batch) != batch_size * self.world_size:
                raise ValueError(f'a global batch of {len(batch)} does not split into '
                                 f'{self.world_size} x {batch_size}')
        self.global_batches = [list(b) for b in global_batches]

    def __iter__(self) -> Iterator[List[int]]:
        start = self.rank * self.batch_size
        for batch in self.global_batches:
            yield batch[start:start + self.batch_size]

    def __len__(self) -> int:
        return len(self.global_batches)


@MODELS.register_module()
class FixedPointsMaskHead(DETRMaskHead):
    """``DETRMaskHead`` with process-independent point sets (see the module docstring)."""

    @staticmethod
    def _points(num: int, seed: int, device) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return torch.rand((1, num, 2), generator=generator).to(device)

    def match_points(self, device) -> torch.Tensor:
        return self._points(self.num_points, 1, device)

    def loss_points(self, preds: torch.Tensor) -> torch.Tensor:
        points = self._points(self.num_points, 2, preds.device)
        return points.expand(preds.shape[0], -1, -1)


@HOOKS.register_module()
class DumpParamsHook(Hook):
    """Write this rank's parameters after training."""

    def __init__(self, name: str = 'params') -> None:
        self.name = name

    @staticmethod
    def dump(runner, path: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if isinstance(runner.model, FSDP):  # each rank holds shards: gather (a collective)
            with FSDP.summon_full_params(runner.model, writeback=False):
                params = {
                    k.replace('_fsdp_wrapped_module.', ''): v.detach().cpu().clone()
                    for k, v in model.named_parameters()
                }
            torch.save(params, path)
            return
        params = dict(model.named_parameters())
        # ZeRO-3: each rank holds a shard; gathering is a collective (every rank calls the hook)
        if any(hasattr(p, 'ds_id') for p in params.values()):
            from deepspeed import zero
            with zero.GatheredParameters(list(params.values())):
                torch.save({k: v.detach().cpu().clone() for k, v in params.items()}, path)
            return
        torch.save({k: v.detach().cpu().clone() for k, v in params.items()}, path)

    def before_train(self, runner) -> None:
        rank, _ = get_dist_info()
        self.dump(runner, osp.join(runner.work_dir, f'init_rank{rank}.pth'))
        if not is_model_wrapper(runner.model):  # one process: a checkpoint others can start from
            torch.save({'state_dict': runner.model.state_dict()},
                       osp.join(runner.work_dir, 'init_checkpoint.pth'))

    def after_train(self, runner) -> None:
        rank, _ = get_dist_info()
        self.dump(runner, osp.join(runner.work_dir, f'{self.name}_rank{rank}.pth'))
