# What every 7B stage config shares: bf16 autocast (AnyDeviceAmpOptimWrapper: mmengine's
# AmpOptimWrapper on GPUs, bf16 autocast on a CPU for smoke tests), the optimizer constructor that
# puts a parameter shared by two modules (a tied Qwen2's token rows) in one group, adapter-style
# checkpoints (AdapterCheckpointHook: trainable tensors + optimizer state + the base folders; the
# frozen CLIP/LLM are rebuilt from those folders), iteration-based loops with validation and test.
# The stage configs set the optimizer's lr, paramwise_cfg, max_iters and the schedule.
_base_ = ['../default_runtime.py', '../strategies/ddp.py']  # plain DDP unless a child changes it

optim_wrapper = dict(
    type='AnyDeviceAmpOptimWrapper',
    dtype='bfloat16',
    constructor='SharedParamOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0),
    clip_grad=dict(max_norm=1.0))
custom_hooks = [dict(type='AdapterCheckpointHook')]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5000, by_epoch=False, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
