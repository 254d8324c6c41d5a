# ddp_tiny_det_seg.py under FlexibleRunner + FSDPStrategy (fp32 FSDP over gloo on a CPU), with the
# strategy fragment of the 7B configs (tests/test_dist/test_fsdp_cpu.py).
_base_ = ['./ddp_tiny_det_seg.py', '../../../configs/_base_/strategies/fsdp.py']
runner_type = 'FlexibleRunner'
strategy = {{_base_.fsdp_cpu_strategy}}
model_wrapper_cfg = None
# the optimiser of ddp_tiny_det_seg.py with the all-rank gradient norm (FSDP shards the gradients)
optim_wrapper = dict(type='ShardedGradClipOptimWrapper')
