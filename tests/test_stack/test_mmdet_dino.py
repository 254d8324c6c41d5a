"""An mmdet DINO with a small backbone builds from config and trains a step without NaN."""
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import DetDataSample
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

EMBED = 256  # mmdet's DINO decoder hard-codes 256-d sine embeddings of the reference points

SMALL_DINO = dict(
    type='DINO',
    num_queries=20,
    num_feature_levels=3,
    with_box_refine=True,
    as_two_stage=True,
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=False,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=18,
        base_channels=16,
        num_stages=4,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False),
    neck=dict(
        type='ChannelMapper',
        in_channels=[32, 64, 128],
        kernel_size=1,
        out_channels=EMBED,
        act_cfg=None,
        norm_cfg=dict(type='GN', num_groups=32),
        num_outs=3),
    encoder=dict(
        num_layers=1,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=EMBED, num_levels=3, dropout=0.0),
            ffn_cfg=dict(embed_dims=EMBED, feedforward_channels=256, ffn_drop=0.0))),
    decoder=dict(
        num_layers=2,
        return_intermediate=True,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=EMBED, num_heads=8, dropout=0.0),
            cross_attn_cfg=dict(embed_dims=EMBED, num_levels=3, dropout=0.0),
            ffn_cfg=dict(embed_dims=EMBED, feedforward_channels=256, ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(num_feats=EMBED // 2, normalize=True, offset=0.0, temperature=20),
    bbox_head=dict(
        type='DINOHead',
        num_classes=3,
        embed_dims=EMBED,
        sync_cls_avg_factor=True,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0)),
    dn_cfg=dict(
        label_noise_scale=0.5,
        box_noise_scale=1.0,
        group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=10)),
    train_cfg=dict(
        assigner=dict(
            type='HungarianAssigner',
            match_costs=[
                dict(type='FocalLossCost', weight=2.0),
                dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
                dict(type='IoUCost', iou_mode='giou', weight=2.0)
            ])),
    test_cfg=dict(max_per_img=20))


def make_batch(num_images: int = 2, size: int = 64) -> dict:
    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(num_images):
        inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=gen))
        sample = DetDataSample(
            metainfo=dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1., 1.)))
        xy = torch.rand(2, 2, generator=gen) * size / 2
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, xy + size / 3], 1), labels=torch.tensor([0, 2]))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_small_dino_train_step_is_finite_and_updates_weights():
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MMDET_MODELS.build(SMALL_DINO)
        model.init_weights()
        optim_wrapper = build_optim_wrapper(
            model, dict(optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4)))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    log_vars = model.train_step(make_batch(), optim_wrapper)
    assert 'loss' in log_vars and any(k.startswith('dn_loss') for k in log_vars)
    for name, value in log_vars.items():
        assert torch.isfinite(torch.as_tensor(value)).all(), f'{name} = {value}'
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p)]
    assert any(n.startswith('backbone') for n in changed)
    assert any(n.startswith('bbox_head') for n in changed)

    model.eval()
    with torch.no_grad():
        results = model.test_step(make_batch())
    assert results[0].pred_instances.bboxes.shape == (20, 4)
