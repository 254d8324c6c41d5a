# deepspeed_tiny_det_seg.py (ZeRO-2) in bf16 as the 7B DeepSpeed configs train: the fragment's
# deepspeed_common (DeepSpeed's torch_autocast: fp32 weights, the forward under bf16 autocast,
# Linear/Conv gradients reduced in bf16; tests/test_dist/test_ddp_cpu.py).
_base_ = ['./deepspeed_tiny_det_seg.py', '../../../configs/_base_/strategies/deepspeed.py']
strategy = dict(config=dict(torch_autocast={{_base_.deepspeed_common.config.torch_autocast}}))
