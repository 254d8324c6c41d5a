"""Batches holding one decoder group only (VisionLLM v2 draws each step from one group).

Used as MMEngine's ``batch_sampler`` (``dict(type='TaskGroupedBatchSampler', ...)``): the Runner
builds it with the ``sampler`` (normally mmengine's ``DefaultSampler``) and ``batch_size``, the same
way mmdet's ``AspectRatioBatchSampler`` is built. It reads the dataset, shuffle flag, seed, epoch,
rank and world size from that sampler (so ``DistSamplerSeedHook``'s ``set_epoch`` reaches it) but
draws its own order, because the group of every step must be the same on all ranks:

* training (``sampler.shuffle``): per epoch a generator seeded with ``seed + epoch`` shuffles each
  group's indices and the sequence of groups; every rank takes its ``rank::world_size`` share of
  each group, so all ranks run the same group at the same step. The number of batches of each group
  is proportional to ``group_ratios`` (default: to the group sizes, i.e. one pass over the data); a
  group that needs more batches than its samples cycles through new permutations. Batches are full.
* test (``shuffle=False``): groups in declaration order (the core's first, then a plugin's),
  samples in dataset order, every sample exactly once (the last batch of a group may be
  smaller). With several ranks each rank gets its ``rank::world_size`` share, so ranks may run
  different numbers of batches.
"""
import math
from typing import Dict, Iterator, List, Optional

import torch
from mmengine.dist import get_dist_info
from torch.utils.data import Sampler

from ...registry import DATA_SAMPLERS
from ..task_definitions import task_to_group
from ..task_registry import TASKS

__all__ = ['TaskGroupedBatchSampler', 'sample_groups']


def sample_groups(dataset) -> Dict[str, List[int]]:
    """Map each decoder group to the dataset indices of its samples (dataset order).

    Args:
        dataset: A dataset with ``get_task(idx)`` (mmvisionllm datasets, ``MultiTaskDataset``) or a
            ``task`` attribute.

    Returns:
        dict[str, list[int]]: Non-empty groups only.
    """
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    if hasattr(dataset, 'datasets') and hasattr(dataset, 'cumulative_sizes'):
        groups: Dict[str, List[int]] = {}
        start = 0
        for sub_dataset, end in zip(dataset.datasets, dataset.cumulative_sizes):
            groups.setdefault(task_to_group(sub_dataset.task), []).extend(range(start, end))
            start = end
        return groups
    if hasattr(dataset, 'get_task'):
        groups = {}
        for idx in range(len(dataset)):
            groups.setdefault(task_to_group(dataset.get_task(idx)), []).append(idx)
        return groups
    if hasattr(dataset, 'task'):
        return {task_to_group(dataset.task): list(range(len(dataset)))}
    raise TypeError(f'{type(dataset).__name__} tells neither get_task(idx) nor task; '
                    'TaskGroupedBatchSampler needs one of them')


@DATA_SAMPLERS.register_module()
class TaskGroupedBatchSampler(Sampler):
    """Group-pure batch sampler.

    Args:
        sampler (Sampler): The wrapped sampler (``DefaultSampler``); its ``dataset``, ``shuffle``,
            ``seed``, ``epoch``, ``rank`` and ``world_size`` are used.
        batch_size (int): Samples per batch (per rank).
        group_ratios (dict[str, float], optional): Relative number of batches per decoder group,
            e.g. ``dict(det=2, pose=1, text=1)``; every group of the dataset needs one (0 leaves
            it out on purpose; a forgotten group is an error). Default: proportional to the group
            sizes.
        num_batches_per_epoch (int, optional): Batches per epoch in training. Default: one pass
            over the data (the sum over groups of ``ceil(size / (batch_size * world_size))``).
        drop_last (bool): Training without ``group_ratios``: drop each group's incomplete last
            batch instead of completing it with recycled samples. Defaults to False.
    """

    def __init__(self,
                 sampler: Sampler,
                 batch_size: int,
                 group_ratios: Optional[Dict[str, float]] = None,
                 num_batches_per_epoch: Optional[int] = None,
                 drop_last: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.dataset = sampler.dataset
        rank, world_size = get_dist_info()
        self.rank = getattr(sampler, 'rank', rank)
        self.world_size = getattr(sampler, 'world_size', world_size)
        self.groups = sample_groups(self.dataset)
        self.group_order = [g for g in TASKS.groups() if g in self.groups]
        if group_ratios is not None:
            # the groups come from the data (each dataset's declared task), not a fixed list
            empty = [g for g in group_ratios if g not in self.groups]
            if empty:
                raise ValueError(
                    f'group_ratios names groups {empty} that no dataset has (the datasets of '
                    f'{type(self.dataset).__name__} hold groups {self.group_order}); a group '
                    'comes from the task a dataset declares (register_task)')
            left_out = [g for g in self.group_order if g not in group_ratios]
            if left_out:
                raise ValueError(f'group_ratios leaves out groups {left_out} that the dataset has: '
                                 'their samples would never be drawn; give them a ratio (0 to '
                                 'leave them out on purpose)')
            if not any(r > 0 for r in group_ratios.values()):
                raise ValueError('group_ratios needs at least one positive ratio')
        self.group_ratios = group_ratios
        self.num_batches_per_epoch = num_batches_per_epoch
        self._epoch = 0

    @property
    def shuffle(self) -> bool:
        """Training order (True) or test order (False), from the wrapped sampler."""
        return bool(getattr(self.sampler, 'shuffle', True))

    @property
    def epoch(self) -> int:
        """Current epoch (the wrapped sampler's when it has one)."""
        return getattr(self.sampler, 'epoch', self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch here and on the wrapped sampler."""
        self._epoch = epoch
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)

    def _natural_batches(self, group: str) -> int:
        per_step = self.batch_size * self.world_size
        size = len(self.groups[group])
        return size // per_step if self.drop_last else math.ceil(size / per_step)

    def batches_per_group(self) -> Dict[str, int]:
        """Number of training batches of each group in one epoch."""
        if self.group_ratios is None and self.num_batches_per_epoch is None:
            return {g: self._natural_batches(g) for g in self.group_order}
        ratios = self.group_ratios or {g: len(self.groups[g]) for g in self.group_order}
        ratios = {g: float(r) for g, r in ratios.items() if r > 0}
        total = self.num_batches_per_epoch
        if total is None:
            total = sum(self._natural_batches(g) for g in self.group_order)
        weight = sum(ratios.values())
        exact = {g: total * r / weight for g, r in ratios.items()}
        counts = {g: int(math.floor(v)) for g, v in exact.items()}
        by_remainder = sorted(
            ratios, key=lambda g: (-(exact[g] - counts[g]), self.group_order.index(g)))
        for g in by_remainder[:total - sum(counts.values())]:
            counts[g] += 1
        return {g: counts.get(g, 0) for g in self.group_order}

    def _train_batches(self) -> Iterator[List[int]]:
        generator = torch.Generator()
        generator.manual_seed(int(getattr(self.sampler, 'seed', 0) or 0) + self.epoch)
        counts = self.batches_per_group()
        streams = {g: self._rank_stream(g, generator) for g in self.group_order}
        sequence = [g for g in self.group_order for _ in range(counts[g])]
        order = torch.randperm(len(sequence), generator=generator).tolist()
        for position in order:
            group = sequence[position]
            yield [next(streams[group]) for _ in range(self.batch_size)]

    def _rank_stream(self, group: str, generator: torch.Generator) -> Iterator[int]:
        """Endless stream of this rank's share of a group, reshuffled after each pass.

        Permutations are drawn lazily but from per-group generators seeded from ``generator`` up
        front, so the draw order does not depend on how the groups interleave.
        """
        seed = int(torch.randint(0, 2**62, (1, ), generator=generator).item())
        indices = self.groups[group]

        def stream() -> Iterator[int]:
            local = torch.Generator()
            local.manual_seed(seed)
            while True:
                permutation = torch.randperm(len(indices), generator=local).tolist()
                if len(permutation) < self.world_size:
                    permutation = (permutation * self.world_size)[:self.world_size]
                for position in permutation[self.rank::self.world_size]:
                    yield indices[position]

        return stream()

    def _test_batches(self) -> Iterator[List[int]]:
        for group in self.group_order:
            share = self.groups[group][self.rank::self.world_size]
            for start in range(0, len(share), self.batch_size):
                yield share[start:start + self.batch_size]

    def __iter__(self) -> Iterator[List[int]]:
        return self._train_batches() if self.shuffle else self._test_batches()

    def __len__(self) -> int:
        if self.shuffle:
            return sum(self.batches_per_group().values())
        return sum(
            math.ceil(len(self.groups[g][self.rank::self.world_size]) / self.batch_size)
            for g in self.group_order)
