# Tiny VisionLLM v2 with its Grounding DINO decoder ([DET] [SEG] [GRD]) on ShapesWorld detection,
# instance segmentation and referring-expression grounding (one decoder group, mixed batches).
#   python tools/train.py configs/visionllmv2/visionllmv2_tiny_det_shapesworld.py --work-dir D
# Compare with configs/baselines/dino_tiny_shapesworld_{det,seg}.py: same detector sizes, image size,
# optimiser and 12-epoch schedule (an epoch here also holds the seg and grd samples: ~1215 batches).
_base_ = [
    '../_base_/models/visionllmv2_tiny.py',
    '../_base_/models/decoders/det_tiny.py',
    '../_base_/datasets/shapesworld_multitask.py',
    '../_base_/default_runtime.py',
]

model = dict(decoders=dict(det={{_base_.det_decoder}}))

train_dataloader = dict(
    dataset=dict(datasets=[{{_base_.shapesworld_det_train}}, {{_base_.shapesworld_seg_train}},
                           {{_base_.shapesworld_grd_train}}]))
val_dataloader = dict(
    dataset=dict(datasets=[{{_base_.shapesworld_det_val}}, {{_base_.shapesworld_seg_val}},
                           {{_base_.shapesworld_grd_val}}]))
test_dataloader = val_dataloader

sw_annotations = '{{$SHAPESWORLD_ROOT:data/shapesworld/}}annotations/'
val_evaluator = [
    dict(
        type='TaskFilteredMetric',
        tasks=['det'],
        metric=dict(
            type='mmdet.CocoMetric',
            ann_file=sw_annotations + 'instances_val.json',
            metric='bbox',
            prefix='det')),
    dict(
        type='TaskFilteredMetric',
        tasks=['seg'],
        metric=dict(
            type='mmdet.CocoMetric',
            ann_file=sw_annotations + 'instances_val.json',
            metric=['bbox', 'segm'],
            prefix='seg')),
    dict(
        type='TaskFilteredMetric',
        tasks=['grd'],
        metric=dict(
            type='mmdet.RefExpMetric',
            ann_file=sw_annotations + 'refexp_val.json',
            metric='bbox',
            topk=(1, 5, 10),
            prefix='grd')),
]
test_evaluator = val_evaluator

# ---- schedule of the tiny ShapesWorld detection runs (as the DINO baselines) ----
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
# several decoder groups / task mixes leave parameters unused in a step
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
