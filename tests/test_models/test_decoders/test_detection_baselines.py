"""Specialist baselines (mmdet DINO, DINO + the decoder's mask branch) and their parity with
det_tiny.
"""
import copy
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.structures import InstanceData
from test_detection_scenes import render_scenes

from mmvisionllm.models.decoders.detection import DINOMask, DINOMaskHead
from mmvisionllm.registry import MODELS

HERE = osp.dirname(osp.abspath(__file__))

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))
BASELINES = osp.join(REPO_ROOT, 'configs', 'baselines')
DET_CFG = osp.join(BASELINES, 'dino_tiny_shapesworld_det.py')
SEG_CFG = osp.join(BASELINES, 'dino_tiny_shapesworld_seg.py')
DET_TINY = osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'decoders', 'det_tiny.py')
VLLM_DET = osp.join(REPO_ROOT, 'configs', 'visionllmv2', 'visionllmv2_tiny_det_shapesworld.py')


def test_baselines_match_the_link_decoder_sizes():
    link = Config.fromfile(DET_TINY).det_detector
    for path in (DET_CFG, SEG_CFG):
        base = Config.fromfile(path).model
        assert base.num_queries == link.num_queries
        assert base.num_feature_levels == link.num_feature_levels
        for key in ('depth', 'base_channels', 'norm_cfg'):
            assert base.backbone[key] == link.backbone[key]
        assert base.neck == link.neck
        assert base.encoder.num_layers == link.encoder.num_layers
        assert base.encoder.layer_cfg == link.encoder.layer_cfg
        assert base.decoder.num_layers == link.decoder.num_layers
        assert base.decoder.layer_cfg.ffn_cfg == link.decoder.layer_cfg.ffn_cfg
        assert base.dn_cfg == link.dn_cfg
        for loss in ('loss_cls', 'loss_bbox', 'loss_iou'):
            assert base.bbox_head[loss].loss_weight == link.bbox_head[loss].loss_weight
        assert [c.weight for c in base.train_cfg.assigner.match_costs] == \
            [c.weight for c in link.train_cfg.assigner.match_costs]
    seg = Config.fromfile(SEG_CFG).model
    assert seg.bbox_head.mask_head == link.bbox_head.mask_head
    assert seg.backbone.out_indices == link.backbone.out_indices
    assert seg.train_cfg.assigner.mask_match_costs == link.train_cfg.assigner.mask_match_costs
    # same schedule as the VisionLLM v2 detection run
    det, vllm = Config.fromfile(DET_CFG), Config.fromfile(VLLM_DET)
    assert det.optim_wrapper == vllm.optim_wrapper
    assert det.param_scheduler == vllm.param_scheduler
    assert det.train_cfg == vllm.train_cfg


def _batch(scenes, with_masks: bool):
    samples = []
    for i, scene in enumerate(scenes):
        size = scene['image'].shape[-1]
        sample = DetDataSample(
            metainfo=dict(
                img_id=i, ori_shape=(size, size), img_shape=(size, size), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(bboxes=scene['bboxes'], labels=scene['labels'])
        if with_masks:
            sample.gt_instances.masks = BitmapMasks(scene['masks'], size, size)
        samples.append(sample)
    return dict(inputs=[s['image'] for s in scenes], data_samples=samples)


@pytest.mark.parametrize('config', [DET_CFG, SEG_CFG])
def test_baseline_loss_and_predict(config):
    cfg = copy.deepcopy(Config.fromfile(config).model)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    with_masks = config == SEG_CFG
    assert isinstance(model, DINOMask) == with_masks
    assert isinstance(model.bbox_head, DINOMaskHead) == with_masks
    scenes = render_scenes(2, size=64, seed=2)
    model.train()
    data = model.data_preprocessor(_batch(scenes, with_masks), True)
    losses = model(**data, mode='loss')
    assert ('loss_mask' in losses) == with_masks and ('d0.loss_dice' in losses) == with_masks
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(_batch(scenes, False), False)
        results = model(**data, mode='predict')
    pred = results[0].pred_instances
    assert len(pred) == 100 and pred.labels.max() < 6
    if with_masks:
        assert pred.masks.shape == (100, 64, 64) and pred.masks.dtype == torch.bool
    else:
        assert 'masks' not in pred


@pytest.mark.slow
@pytest.mark.skipif(
    not osp.isfile(
        osp.join(REPO_ROOT, 'data', 'shapesworld', 'annotations', 'instances_train.json')),
    reason='needs data/shapesworld (tools/misc/generate_shapesworld.py)')
def test_seg_baseline_trains_and_tests_with_the_tools(tmp_path):
    """tools/train.py and tools/test.py on a 16/8-image slice of ShapesWorld, one epoch."""
    slice_opts = [
        'train_dataloader.dataset.indices=16', 'val_dataloader.dataset.indices=8',
        'test_dataloader.dataset.indices=8', 'train_cfg.max_epochs=1'
    ] + [
        f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
        for key in ('num_workers=0', 'persistent_workers=False')
    ]
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    train = subprocess.run(
        [sys.executable, 'tools/train.py', SEG_CFG, '--work-dir', work_dir, '--cfg-options'] +
        slice_opts,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env)
    assert train.returncode == 0, train.stderr[-3000:]
    test = subprocess.run(
        [
            sys.executable, 'tools/test.py', SEG_CFG,
            osp.join(work_dir, 'epoch_1.pth'), '--work-dir', work_dir, '--cfg-options'
        ] + slice_opts,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env)
    assert test.returncode == 0, test.stderr[-3000:]
    metrics = json.load(open(osp.join(work_dir, 'test_metrics.json')))
    assert 'coco/bbox_mAP' in metrics and 'coco/segm_mAP' in metrics
