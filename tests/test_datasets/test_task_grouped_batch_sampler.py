"""TaskGroupedBatchSampler: one decoder group per batch, ratios, determinism, ranks, test order."""
import collections
import copy

import pytest
from mmengine.dataset import DefaultSampler
from mmengine.runner import Runner

from mmvisionllm.datasets import TaskGroupedBatchSampler, task_to_group
from mmvisionllm.registry import DATA_SAMPLERS


class TaskList:
    """Minimal dataset: a task per index (what the sampler reads)."""

    def __init__(self, tasks):
        self.tasks = list(tasks)

    def __len__(self):
        return len(self.tasks)

    def get_task(self, idx):
        return self.tasks[idx]


TASKS = ['det'] * 40 + ['seg'] * 20 + ['pose'] * 12 + ['vqa'] * 30 + ['caption'] * 10 + ['gen'] * 5


def make(shuffle=True, rank=0, world_size=1, seed=3, **kwargs):
    sampler = DefaultSampler(TaskList(TASKS), shuffle=shuffle, seed=seed)
    sampler.rank, sampler.world_size = rank, world_size
    return TaskGroupedBatchSampler(sampler, batch_size=4, **kwargs)


def groups_of(batches):
    return [{task_to_group(TASKS[i]) for i in batch} for batch in batches]


def test_every_training_batch_holds_one_group():
    batch_sampler = make()
    batches = list(batch_sampler)
    assert len(batches) == len(batch_sampler)
    assert all(
        len(groups) == 1 and len(batch) == 4 for groups, batch in zip(groups_of(batches), batches))
    counts = collections.Counter(next(iter(g)) for g in groups_of(batches))
    # Default: one pass over the data, ceil(size / batch) batches per group.
    assert counts == {'det': 15, 'pose': 3, 'text': 10, 'gen': 2}
    seen = collections.Counter(i for batch in batches for i in batch)
    assert set(seen) == set(range(len(TASKS)))


def test_training_order_depends_only_on_seed_and_epoch():
    first, second = make(), make()
    assert list(first) == list(second)
    second.set_epoch(1)
    assert second.sampler.epoch == 1
    assert list(second) != list(first)
    assert list(make(seed=4)) != list(first)
    first.sampler.set_epoch(1)  # what DistSamplerSeedHook does
    assert list(first) == list(second)


def test_group_ratios_set_the_mix():
    batch_sampler = make(group_ratios=dict(det=1, pose=2, gen=1, text=0), num_batches_per_epoch=40)
    batches = list(batch_sampler)
    counts = collections.Counter(next(iter(g)) for g in groups_of(batches))
    assert counts == {'det': 10, 'pose': 20, 'gen': 10}
    assert batch_sampler.batches_per_group() == {'det': 10, 'pose': 20, 'gen': 10, 'text': 0}
    with pytest.raises(ValueError, match=r"names groups \['detection'\] that no dataset has"):
        make(group_ratios=dict(detection=1))
    with pytest.raises(ValueError, match=r"names groups \['edit'\] that no dataset has"):
        make(group_ratios=dict(edit=1, det=0, pose=0, gen=0, text=0))
    with pytest.raises(ValueError, match=r"leaves out groups \['text'\]"):
        make(group_ratios=dict(det=1, pose=2, gen=1))


def test_ranks_share_the_group_sequence_and_split_the_samples():
    ranks = [list(make(rank=r, world_size=2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1])
    assert groups_of(ranks[0]) == groups_of(ranks[1])
    # Within one pass (drop_last: no recycled samples) the ranks never share a sample.
    ranks = [list(make(rank=r, world_size=2, drop_last=True)) for r in range(2)]
    assert groups_of(ranks[0]) == groups_of(ranks[1])
    indices = [[i for batch in batches for i in batch] for batches in ranks]
    assert len(set(indices[0])) == len(indices[0])
    assert not set(indices[0]) & set(indices[1])


def test_test_mode_visits_every_sample_once_group_by_group():
    batch_sampler = make(shuffle=False)
    batches = list(batch_sampler)
    assert len(batches) == len(batch_sampler)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(TASKS)))
    assert all(len(g) == 1 for g in groups_of(batches))
    order = [next(iter(g)) for g in groups_of(batches)]
    assert order == sorted(order, key=['det', 'pose', 'gen', 'edit', 'text'].index)
    shares = [[i for batch in make(shuffle=False, rank=r, world_size=2) for i in batch]
              for r in range(2)]
    assert sorted(shares[0] + shares[1]) == list(range(len(TASKS)))


def test_built_by_the_runner_from_the_multitask_config(build_task_dataset):
    from mmvisionllm.datasets import MultiTaskDataset
    from .conftest import TASKS as ALL_TASKS
    from .conftest import task_config
    assert DATA_SAMPLERS.get('TaskGroupedBatchSampler') is TaskGroupedBatchSampler
    dataset = MultiTaskDataset([build_task_dataset(task, 'val') for task in ALL_TASKS])
    cfg = copy.deepcopy(task_config('multitask').val_dataloader)
    cfg.update(dataset=dataset, num_workers=0, persistent_workers=False, batch_size=3)
    loader = Runner.build_dataloader(cfg, seed=0)
    seen = []
    for batch in loader:
        tasks = {sample.task for sample in batch['data_samples']}
        assert len({task_to_group(t) for t in tasks}) == 1
        assert set(batch['inputs']) == {'clip', 'image'}
        assert len(batch['inputs']['clip']) == len(batch['data_samples'])
        seen += [(s.task, s.img_id, s.metainfo.get('question_id'), s.metainfo.get('sample_id'))
                 for s in batch['data_samples']]
    assert len(seen) == len(dataset)
    train_cfg = copy.deepcopy(task_config('multitask').train_dataloader)
    train_cfg.update(dataset=dataset, num_workers=0, persistent_workers=False, batch_size=2)
    train_loader = Runner.build_dataloader(train_cfg, seed=0)
    batch = next(iter(train_loader))
    assert len({task_to_group(s.task) for s in batch['data_samples']}) == 1
