# Specialist baseline for VisionLLM v2's detection decoder on ShapesWorld: mmdet's own DINO with a
# fixed class set (class embeddings instead of link embeddings). Backbone, widths, layers, queries,
# denoising, losses/matching weights, image size (128) and schedule are those of
# configs/_base_/models/decoders/det_tiny.py, so the two differ only in where class features come from.
# (the work dir below is where the GenEval judge of the gen/edit configs and `make geneval` is read)
#   python tools/train.py configs/baselines/dino_tiny_shapesworld_det.py \
#       --work-dir work_dirs/dino_tiny_shapesworld_det
#   python tools/test.py configs/baselines/dino_tiny_shapesworld_det.py \
#       work_dirs/dino_tiny_shapesworld_det/epoch_12.pth
_base_ = ['../_base_/datasets/shapesworld_det_mmdet.py', '../_base_/default_runtime.py']

num_classes = 6  # person, circle, square, triangle, star, cross
model = dict(
    type='mmdet.DINO',
    num_queries=30,
    with_box_refine=True,
    as_two_stage=True,
    num_feature_levels=3,
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,  # mmdet's LoadImageFromFile gives BGR
        pad_size_divisor=32),
    backbone=dict(
        type='mmdet.ResNet',
        depth=18,
        base_channels=16,
        num_stages=4,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch'),
    neck=dict(
        type='mmdet.ChannelMapper',
        in_channels=[32, 64, 128],
        kernel_size=1,
        out_channels=256,
        act_cfg=None,
        bias=True,
        norm_cfg=dict(type='GN', num_groups=32),
        num_outs=3),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_levels=3, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=512, ffn_drop=0.0))),
    decoder=dict(
        num_layers=2,
        return_intermediate=True,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
            cross_attn_cfg=dict(embed_dims=256, num_levels=3, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=512, ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(num_feats=128, normalize=True, offset=0.0, temperature=20),
    bbox_head=dict(
        type='mmdet.DINOHead',
        num_classes=num_classes,
        embed_dims=256,
        sync_cls_avg_factor=True,
        loss_cls=dict(
            type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=2.0),
        loss_bbox=dict(type='mmdet.L1Loss', loss_weight=5.0),
        loss_iou=dict(type='mmdet.GIoULoss', loss_weight=2.0)),
    dn_cfg=dict(
        label_noise_scale=0.5,
        box_noise_scale=1.0,
        group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=30)),
    train_cfg=dict(
        assigner=dict(
            type='mmdet.HungarianAssigner',
            match_costs=[
                dict(type='mmdet.FocalLossCost', weight=2.0),
                dict(type='mmdet.BBoxL1Cost', weight=5.0, box_format='xywh'),
                dict(type='mmdet.IoUCost', iou_mode='giou', weight=2.0)
            ])),
    test_cfg=dict(max_per_img=100))

# detection only: score boxes
val_evaluator = dict(metric='bbox')
test_evaluator = val_evaluator

# ---- the optimiser and 12-epoch schedule of the VisionLLM v2 tiny detection config (an epoch is 250
# iterations here, 2000 images; ~1215 there, where it also holds the segmentation and grounding
# samples) ----
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.1, norm_type=2))
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[10], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=8)
