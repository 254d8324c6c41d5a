"""Must-show 1 of issue #24: a plugin that exists only in this test's temporary folder adds a new
task (its routing token, dataset class, ground-truth key and metric), loads a checkpoint of the
core model, trains a few steps with mmengine's Runner (as tools/train.py) and predicts (as
tools/test.py), with no core edit."""
import os.path as osp
import sys
import textwrap

import pytest
import torch
from mllm_builders import build_model, tiny_model_cfg
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import save_checkpoint

from mmvisionllm.datasets import TASKS
from mmvisionllm.datasets.shapesworld import generate_shapesworld

PLUGIN = '''
"""A task the core does not have: the summed box area of each asked class, in image units."""
from collections import Counter

import torch
from mmengine.evaluator import BaseMetric
from torch import nn

from mmvisionllm.datasets import CocoInstanceConversationDataset, register_task
from mmvisionllm.models.decoders import BaseLinkDecoder
from mmvisionllm.registry import DATASETS, METRICS, MODELS

register_task('area', group='area', routing_tokens=('[AREA]', ), gt_keys=('gt_areas', ),
              templates=('Please give the number of each of these categories: {classes}.', ))


@DATASETS.register_module(force=True)
class AreaDataset(CocoInstanceConversationDataset):
    SUPPORTED_TASKS = ('area', )

    def build_conversation(self, data_info):
        result = super().build_conversation(data_info)
        area = Counter()
        for inst in data_info['instances']:
            x1, y1, x2, y2 = inst['bbox']
            area[inst['bbox_label']] += (x2 - x1) * (y2 - y1) / 128.0**2
        result['gt_areas'] = [area[label] for label in result['target_label_ids']]
        return result


@MODELS.register_module(force=True)
class AreaDecoder(BaseLinkDecoder):
    def __init__(self, routing_tokens=('[AREA]', ), num_queries=2, in_channels=0, init_cfg=None):
        super().__init__(routing_tokens, num_queries, in_channels, init_cfg=init_cfg)
        self.head = nn.Linear(in_channels, 1)

    def _areas(self, link_embeds):
        return self.head(link_embeds.mean(2)).squeeze(-1)

    def loss(self, link_embeds, link_mask, images, data_samples):
        pred = self._areas(link_embeds)
        target = torch.zeros_like(pred)
        for row, sample in enumerate(data_samples):
            num = int(link_mask[row].sum())
            target[row, :num] = torch.tensor(sample.metainfo['gt_areas'][:num])
        mask = link_mask.to(pred.dtype)
        return dict(loss_area=((pred - target)**2 * mask).sum() / mask.sum())

    def predict(self, link_embeds, link_mask, images, data_samples):
        pred = self._areas(link_embeds)
        for row, sample in enumerate(data_samples):
            sample.set_metainfo(dict(pred_areas=pred[row, :int(link_mask[row].sum())].tolist()))
        return data_samples


@METRICS.register_module(force=True)
class AreaError(BaseMetric):
    default_prefix = 'area'

    def process(self, data_batch, data_samples):
        for meta in data_samples:  # the evaluator hands over sample.to_dict(); one result each
            self.results.append(
                [abs(p - t) for p, t in zip(meta['pred_areas'], meta['gt_areas'])])

    def compute_metrics(self, results):
        errors = [error for sample in results for error in sample]
        return dict(mae=sum(errors) / len(errors), pairs=len(errors))
'''


@pytest.fixture(scope='module')
def tiny_world(tmp_path_factory):
    root = tmp_path_factory.mktemp('world')
    generate_shapesworld(
        str(root), show_progress=False, seed=0, num_train=12, num_val=6, img_size=128)
    return root


def _dataset(root, split):
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='DynamicTiling', tile_size=32, max_tiles=1),
        dict(type='ResizeWithKeypoints', scale=(64, 64), keep_ratio=True),
        dict(type='PackMultimodalInputs'),
    ]
    return dict(
        type='AreaDataset',
        task='area',
        data_root=str(root) + '/',
        ann_file=f'annotations/instances_{split}.json',
        data_prefix=dict(img=f'images/{split}/'),
        metainfo=dict(classes=('person', 'circle', 'square', 'triangle', 'star', 'cross')),
        test_mode=split == 'val',
        pipeline=pipeline)


def _loader(root, split):
    return dict(
        batch_size=3,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=split == 'train'),
        batch_sampler=dict(type='TaskGroupedBatchSampler'),
        collate_fn=dict(type='pseudo_collate'),
        dataset=_dataset(root, split))


def test_a_plugin_in_a_temporary_folder_adds_a_task_to_a_trained_model(tiny_world, tmp_path):
    plugin_dir = tmp_path / 'plugin'
    plugin_dir.mkdir()
    (plugin_dir / 'area_plugin.py').write_text(PLUGIN)
    tokenizer = str(tiny_world / 'tokenizer')
    torch.manual_seed(0)
    core = build_model(tiny_model_cfg(tokenizer))  # the core model, without the new task
    core_ckpt = str(tmp_path / 'core.pth')
    save_checkpoint(dict(state_dict=core.state_dict(), meta=dict()), core_ckpt)

    model = tiny_model_cfg(tokenizer, dict(area=dict(type='AreaDecoder')))
    cfg = dict(
        default_scope='mmvisionllm',
        custom_imports=dict(imports=['area_plugin'], allow_failed_imports=False),
        model=model,
        load_from=core_ckpt,
        work_dir=str(tmp_path / 'work'),
        train_dataloader=_loader(tiny_world, 'train'),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=3),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)),
        test_dataloader=_loader(tiny_world, 'val'),
        test_cfg=dict(type='TestLoop'),
        test_evaluator=dict(type='AreaError'),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        log_processor=dict(by_epoch=False),
        randomness=dict(seed=0))
    config_file = tmp_path / 'area_config.py'
    config_file.write_text(
        textwrap.dedent('\n'.join(f'{key} = {value!r}' for key, value in cfg.items())))
    sys.path.insert(0, str(plugin_dir))
    try:
        runner = Runner.from_cfg(Config.fromfile(str(config_file)))
        runner.train()
        log = open(osp.join(runner.log_dir, f'{runner.timestamp}.log')).read()
        metrics = runner.test()
    finally:
        sys.path.remove(str(plugin_dir))
        TASKS.unregister('area')
    area_id = len(core.llm.tokenizer)  # appended after every token of the core checkpoint
    assert f"new tokens ['[AREA]'] (ids [{area_id}])" in log
    assert "new query tables ['area']" in log
    assert 'loss_area' in log
    assert metrics['area/pairs'] == 6 * 6  # every val image, every class, predicted and scored
    assert 0 <= metrics['area/mae'] < 10
