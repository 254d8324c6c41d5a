# VisionLLM v2 (tiny, random init) with the UniPose-style pose decoder on ShapesWorld keypoints.
# The answer "person [POSE], head [POSE], ..., right_foot [POSE]" gives the decoder 1 + 13 targets
# of N=4 link embeddings each; the decoder loss flows back into the LLM (stage-2 style: LLM, query
# tables and decoder train; the CLIP encoder stays frozen). Compare with
# configs/baselines/pose_tiny_specialist_shapesworld.py (same decoder, data and schedule, learned
# prompts instead of the LLM) via tools/analysis_tools.
_base_ = [
    '../_base_/models/visionllmv2_tiny.py', '../_base_/models/decoders/pose_tiny.py',
    '../_base_/datasets/shapesworld_pose.py', '../_base_/default_runtime.py'
]

model = dict(decoders=dict(pose={{_base_.pose_decoder}}), frozen_components=('vision_encoder', ))

# decoders like 1e-4 at real scale (paper); random-init tiny models train well at 1e-3.
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
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
