"""configs/_base_/datasets/shapesworld_det_mmdet.py: plain mmdet data for mmdet's own detectors."""
import copy

import torch
from mmdet.structures import DetDataSample
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmvisionllm.datasets.shapesworld.world_spec import CATEGORY_NAMES
from .conftest import task_config


def test_builds_standard_mmdet_samples_in_any_default_scope(shapesworld_root):
    cfg = task_config('det_mmdet')
    assert cfg.metainfo['classes'] == CATEGORY_NAMES
    assert cfg.val_evaluator['metric'] == ['bbox', 'segm']
    for scope in ('mmvisionllm', 'mmdet'):
        with DefaultScope.overwrite_default_scope(scope):
            loader_cfg = copy.deepcopy(cfg.train_dataloader)
            loader_cfg.dataset.data_root = f'{shapesworld_root}/'
            loader_cfg.update(num_workers=0, persistent_workers=False)
            loader = Runner.build_dataloader(loader_cfg, seed=0)
            batch = next(iter(loader))
            inputs, samples = batch['inputs'], batch['data_samples']
            assert len(inputs) == 8 and inputs[0].shape == (3, 128, 128)
            assert inputs[0].dtype == torch.uint8
            assert all(type(s) is DetDataSample for s in samples)
            assert all(len(s.gt_instances) > 0 and 'masks' in s.gt_instances for s in samples)
            labels = torch.cat([s.gt_instances.labels for s in samples])
            assert labels.min() >= 0 and labels.max() < len(CATEGORY_NAMES)
