"""Shared fixtures of the dataset tests: a small ShapesWorld set and config-built datasets."""
import copy
import json
from pathlib import Path
from typing import Callable

import pytest
from mmengine import Config
from mmengine.registry import DefaultScope

import mmvisionllm.datasets  # noqa: F401  (registers the datasets and transforms)
from mmvisionllm.datasets.shapesworld import generate_shapesworld
from mmvisionllm.registry import DATASETS

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASET_CONFIG_DIR = REPO_ROOT / 'configs' / '_base_' / 'datasets'
SMALL_SET = dict(seed=0, num_train=12, num_val=6, img_size=128)
TASKS = ('det', 'seg', 'grd', 'pose', 'vqa', 'caption', 'region', 'gen', 'edit')


@pytest.fixture(scope='session', autouse=True)
def mmvisionllm_scope():
    """Resolve config types in the mmvisionllm scope, as the runner does."""
    return DefaultScope.get_instance('test_datasets', scope_name='mmvisionllm')


@pytest.fixture(scope='session')
def shapesworld_root(tmp_path_factory) -> Path:
    """12 train / 6 val scenes (seed 0); every annotation file of both splits is non-empty."""
    root = tmp_path_factory.mktemp('shapesworld')
    summary = generate_shapesworld(str(root), show_progress=False, **SMALL_SET)
    for split, counts in summary.items():
        empty = [kind for kind, count in counts.items() if count == 0]
        assert not empty, f'the small test set has no {empty} in {split}; pick another seed'
    return root


def load_json(path: Path):
    """Read a JSON file."""
    with open(path) as f:
        return json.load(f)


def task_config(task: str) -> Config:
    """The dataset config of a ShapesWorld task."""
    return Config.fromfile(str(DATASET_CONFIG_DIR / f'shapesworld_{task}.py'))


@pytest.fixture(scope='session')
def build_task_dataset(shapesworld_root) -> Callable:
    """``build(task, split)``: the task's dataset from its config, reading the small set."""
    cache = {}

    def build(task: str, split: str = 'val', **overrides):
        key = (task, split, json.dumps(overrides, sort_keys=True, default=str))
        if key not in cache:
            cfg = task_config(task)
            loader = cfg.train_dataloader if split == 'train' else cfg.val_dataloader
            dataset_cfg = copy.deepcopy(loader.dataset)
            dataset_cfg.data_root = str(shapesworld_root) + '/'
            dataset_cfg.update(overrides)
            cache[key] = DATASETS.build(dataset_cfg)
        return cache[key]

    return build
