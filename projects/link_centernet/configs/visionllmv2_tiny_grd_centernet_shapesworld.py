# Grounding ([GRD]) through mmdet's CenterNetHead instead of the core's Grounding DINO decoder:
# the demo generalist's LLM (frozen, as in stage 3) reads "Where is the small red circle?" and
# writes "the small red circle [GRD]"; the LinkCenterNetDecoder turns its link embeddings into a
# box. Start from the demo checkpoint:
#   PYTHONPATH=. python tools/train.py projects/link_centernet/configs/<this file> \
#       --cfg-options load_from=work_dirs/demo/iter_1000.pth
# The checkpoint's det decoder is not used (its weights are reported as unexpected keys); the new
# 'grd' query table and the decoder start fresh ("extending the checkpoint: ..." in the log).
_base_ = ['../../../configs/visionllmv2/visionllmv2_tiny_shapesworld.py']

custom_imports = dict(
    imports=['projects.link_centernet.link_centernet'], allow_failed_imports=False)

model = dict(
    decoders=dict(
        _delete_=True,
        grd=dict(
            type='LinkCenterNetDecoder',
            routing_tokens=('[GRD]', ),
            num_queries=4,
            feat_channels=64,
            # nested mmdet types: `_scope_='mmdet'` makes the losses inside the head resolve in
            # mmdet too (a 'mmdet.' prefix would reach the outer type only)
            head=dict(
                type='CenterNetHead',
                _scope_='mmdet',
                num_classes=1,
                in_channels=64,
                feat_channels=64,
                loss_center_heatmap=dict(type='GaussianFocalLoss', loss_weight=1.0),
                loss_wh=dict(type='L1Loss', loss_weight=0.1),
                loss_offset=dict(type='L1Loss', loss_weight=1.0),
                test_cfg=dict(topk=10, local_maximum_kernel=3, max_per_img=10)))),
    frozen_components=('vision_encoder', 'projector', 'region_encoder', 'llm'))

train_dataloader = dict(
    batch_sampler=dict(_delete_=True, type='TaskGroupedBatchSampler'),
    dataset=dict(
        _delete_=True,
        type='MultiTaskDataset',
        datasets=[{{_base_.shapesworld_grd_train}}],
        transform_overrides={{_base_.clip_view_override}}))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiTaskDataset',
        datasets=[{{_base_.shapesworld_grd_val}}],
        transform_overrides={{_base_.clip_view_override}}))
test_evaluator = [
    dict(
        type='mmdet.RefExpMetric',
        ann_file='data/shapesworld/annotations/refexp_val.json',
        metric='bbox',
        topk=(1, 5, 10))
]
optim_wrapper = dict(optimizer=dict(lr=1e-3), paramwise_cfg=dict(_delete_=True))
max_iters = 400
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=20, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
