# The pose specialist on the schedule of the demo generalist (`make benchmark`): as many steps of
# batch 8 as the generalist's pose group gets (stage 2, 1000 x 0.25 in
# configs/visionllmv2/visionllmv2_tiny_shapesworld.py), its decoder learning rate (5e-4) and
# warm-up/cosine shape, tested on the same first 60 val samples.
_base_ = ['../pose_tiny_specialist_shapesworld.py']

max_iters = 250
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=12),
    dict(type='CosineAnnealingLR', eta_min=2.5e-6, by_epoch=False, begin=12, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_dataloader = dict(dataset=dict(indices=60))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False))
