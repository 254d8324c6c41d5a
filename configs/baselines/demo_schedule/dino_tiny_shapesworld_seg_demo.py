# The segmentation specialist (DINO + the generalist's mask branch) on the demo generalist's
# schedule; the same schedule block as dino_tiny_shapesworld_det_demo.py (MMEngine does not merge
# two bases that set the same keys).
_base_ = ['../dino_tiny_shapesworld_seg.py']

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
