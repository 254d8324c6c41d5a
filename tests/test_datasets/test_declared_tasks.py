"""Declared tasks: a plugin's task needs no core edit; wrong declarations are clear errors."""
import numpy as np
import pytest
from mmengine.dataset import DefaultSampler

from mmvisionllm.datasets import TASKS, TaskGroupedBatchSampler, register_task
from mmvisionllm.datasets.instruction_templates import all_template_texts, format_instruction
from mmvisionllm.datasets.transforms import PackMultimodalInputs


@pytest.fixture
def count_task():
    spec = register_task(
        'count_test',
        group='count_test',
        routing_tokens=('[CNTT]', ),
        templates=('Count the {classes} in the image.', ),
        gt_keys=('gt_counts', ))
    yield spec
    TASKS.unregister('count_test')


class _Tasks:
    """A dataset that tells the task of each index (as the mmvisionllm datasets do)."""

    def __init__(self, tasks):
        self.tasks = tasks

    def __len__(self):
        return len(self.tasks)

    def get_task(self, idx):
        return self.tasks[idx]


def test_a_declared_task_has_its_group_templates_and_gt_keys(count_task):
    assert TASKS.get('count_test') is count_task
    assert TASKS.groups()[:5] == ['det', 'pose', 'gen', 'edit', 'text']  # the core's come first
    assert TASKS.groups()[-1] == 'count_test'
    assert format_instruction('count_test', 0, classes='circle') == 'Count the circle in the image.'
    assert 'Count the   in the image.' in all_template_texts()  # enters the tiny vocabulary
    sampler = TaskGroupedBatchSampler(
        DefaultSampler(_Tasks(['det'] * 8 + ['count_test'] * 8), shuffle=True, seed=0),
        batch_size=4,
        group_ratios=dict(det=1, count_test=3))
    assert sampler.batches_per_group() == {'det': 1, 'count_test': 3}
    packed = PackMultimodalInputs().transform(
        dict(task='count_test', target_names=['circle'], gt_counts=[2], img_id=1))
    assert packed['data_samples'].metainfo['gt_counts'] == [2]
    assert packed['data_samples'].metainfo['link_tokens'] == ['[CNTT]']


def test_a_task_declared_twice_with_other_tokens_is_an_error(count_task):
    assert register_task(**{
        f: getattr(count_task, f)
        for f in ('name', 'group', 'routing_tokens', 'templates', 'gt_keys')
    }) is count_task
    with pytest.raises(ValueError, match=r"task 'count_test' is declared twice.*routing_tokens"):
        register_task(
            'count_test',
            group='count_test',
            routing_tokens=('[NUM]', ),
            templates=count_task.templates,
            gt_keys=('gt_counts', ))
    with pytest.raises(ValueError, match=r'routing token \[DET\], which task .det. of group'):
        register_task('count_other', group='other', routing_tokens=('[DET]', ))


def test_an_undeclared_task_names_the_way_to_declare_it():
    with pytest.raises(KeyError, match=r"Unknown task 'xyz'.*register_task"):
        TASKS.get('xyz')


def test_group_ratios_naming_a_group_no_dataset_has_is_an_error(count_task):
    sampler = DefaultSampler(_Tasks(['det'] * 8), shuffle=True, seed=0)
    with pytest.raises(ValueError, match=r"names groups \['count_test'\] that no dataset has"):
        TaskGroupedBatchSampler(sampler, batch_size=4, group_ratios=dict(det=1, count_test=1))


def test_ground_truth_nobody_packs_is_an_error_not_dropped():
    results = dict(task='vqa', img_path='a.png', target_names=[], gt_counts=np.array([1]))
    with pytest.raises(KeyError, match=r"'a.png'.*\['gt_counts'\] that would be dropped"):
        PackMultimodalInputs().transform(dict(results))
    packed = PackMultimodalInputs(extra_meta_keys=('gt_counts', )).transform(dict(results))
    assert packed['data_samples'].metainfo['gt_counts'].tolist() == [1]
