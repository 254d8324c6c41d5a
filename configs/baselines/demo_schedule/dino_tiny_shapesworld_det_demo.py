# The detection specialist on the schedule of the demo generalist (`make benchmark`): as many steps
# of batch 8 as the generalist's detection group gets (max_iters x group ratio of
# configs/visionllmv2/visionllmv2_tiny_shapesworld.py: stage 2, 1000 x 0.20), its decoder
# learning rate (5e-4) and warm-up/cosine shape, tested on the same first 100 val images.
_base_ = ['../dino_tiny_shapesworld_det.py']

max_iters = 200
optim_wrapper = dict(optimizer=dict(lr=5e-4), clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=10),
    dict(type='CosineAnnealingLR', eta_min=2.5e-6, by_epoch=False, begin=10, end=max_iters)
]
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_dataloader = dict(dataset=dict(indices=100))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False))
log_processor = dict(by_epoch=False)
