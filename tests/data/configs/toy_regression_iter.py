# The toy regression, iteration-based, with randomness in the main process at every step: input
# noise in the loss (torch's generator) and a random jitter of each drawn sample (numpy's and
# python's, num_workers=0). 24 iterations of 16 per epoch cross an epoch boundary; validation
# every 8 iterations draws from the generators too. Used by the resume and fault-injection tests.
_base_ = ['./toy_regression.py']

model = dict(input_noise=0.1)
train_dataloader = dict(dataset=dict(jitter=0.05))
max_iters = 24
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=8)
param_scheduler = [dict(type='MultiStepLR', milestones=[12], gamma=0.5, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=4, by_epoch=False, max_keep_ckpts=10))
log_processor = dict(by_epoch=False)
