# ddp_tiny_det_seg.py under FlexibleRunner + DeepSpeed ZeRO-2 on a CPU (DS_ACCELERATOR=cpu, gloo,
# fp32; tests/test_dist/test_ddp_cpu.py). SGD is not among ZeRO's tested optimizers, hence
# zero_allow_untested_optimizer; DeepSpeed clips by the global norm itself.
_base_ = ['./ddp_tiny_det_seg.py']
runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    config=dict(zero_allow_untested_optimizer=True),
    zero_optimization=dict(stage=2),
    gradient_clipping=1.0)
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
model_wrapper_cfg = None
