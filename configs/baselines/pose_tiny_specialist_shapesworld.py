# Pose specialist baseline on ShapesWorld keypoints: the same tiny UniPose-style decoder, image view,
# data and schedule as configs/visionllmv2/visionllmv2_tiny_pose_shapesworld.py, with a learned
# prompt table (1 + 13 targets x N=4 rows x 256 = the tiny LLM's width) instead of LLM link embeddings.
# Train: python tools/train.py configs/baselines/pose_tiny_specialist_shapesworld.py
_base_ = [
    '../_base_/models/decoders/pose_tiny.py', '../_base_/datasets/shapesworld_pose.py',
    '../_base_/default_runtime.py'
]

model = dict(
    type='PoseSpecialist',
    decoder={{_base_.pose_decoder}},
    num_keypoints=13,
    num_object_targets=1,
    prompt_channels=256)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=1.0))
max_iters = 6000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', milestones=[5000], gamma=0.1, by_epoch=False, begin=0, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=2000, by_epoch=False))
log_processor = dict(by_epoch=False)
