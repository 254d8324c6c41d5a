# deepspeed_tiny_det_seg.py (ZeRO-2) with the optimizer states offloaded to the CPU; see
# deepspeed_zero3_offload_tiny_det_seg.py for what this means on a CPU and why
# zero_force_ds_cpu_optimizer is off (tests/test_dist/test_ddp_cpu.py).
_base_ = ['./deepspeed_tiny_det_seg.py']
strategy = dict(
    config=dict(zero_force_ds_cpu_optimizer=False),
    zero_optimization=dict(offload_optimizer=dict(device='cpu', pin_memory=True)))
