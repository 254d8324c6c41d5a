# fsdp_tiny_det_seg.py in bf16 as the 7B FSDP config trains: fsdp_strategy's mixed precision (fp32
# units, gradients reduced in bf16) and the forward under bf16 autocast (the optimizer wrapper's
# dtype); the CPU-safe state dict settings of fsdp_cpu_strategy (tests/test_dist/test_ddp_cpu.py).
_base_ = ['./fsdp_tiny_det_seg.py']
strategy = dict(
    model_wrapper=dict(mixed_precision={{_base_.fsdp_strategy.model_wrapper.mixed_precision}}))
optim_wrapper = dict(dtype='bfloat16')
