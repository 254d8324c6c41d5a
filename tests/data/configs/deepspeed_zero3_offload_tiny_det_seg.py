# deepspeed_zero3_tiny_det_seg.py with ZeRO-Offload of optimizer states and parameters (the
# offload entries of configs/_base_/strategies/deepspeed.py). On a CPU nothing moves (the device
# is the CPU already); what runs is DeepSpeed's offload code path. The SGD of the test config is
# not DeepSpeedCPUAdam, which DeepSpeed refuses under offload unless zero_force_ds_cpu_optimizer is
# off (tests/test_dist/test_ddp_cpu.py; DeepSpeedCPUAdam itself: tests/test_dist/test_cpu_adam.py).
_base_ = ['./deepspeed_zero3_tiny_det_seg.py']
cpu_offload = dict(device='cpu', pin_memory=True)
strategy = dict(
    config=dict(zero_force_ds_cpu_optimizer=False),
    zero_optimization=dict(offload_optimizer=cpu_offload, offload_param=cpu_offload))
