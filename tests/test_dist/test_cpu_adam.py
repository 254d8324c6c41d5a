"""DeepSpeedCPUAdam (ZeRO-Offload's optimizer, ``optimizer=dict(type='DeepSpeedCPUAdam')`` in the
offload configs) builds on this machine and takes the steps of ``torch.optim.AdamW``.

DeepSpeedCPUAdam is a C++ op that DeepSpeed JIT-builds with the host compiler at first use (the
build goes to ``~/.cache/torch_extensions``; measured here with gcc 12 on two loaded cores:
130-230 s, and a second process rebuilt it, so the test is slow). Its AVX kernel must give the
AdamW update (decoupled weight decay, bias correction) to float rounding.
"""
import os

import pytest
import torch

os.environ.setdefault('DS_ACCELERATOR', 'cpu')


@pytest.mark.slow
def test_deepspeed_cpu_adam_builds_and_matches_torch_adamw():
    pytest.importorskip('deepspeed')
    from deepspeed.ops.adam import DeepSpeedCPUAdam
    generator = torch.Generator().manual_seed(0)
    start = [torch.randn(shape, generator=generator) for shape in ((37, 19), (5, ), (1000, ))]
    grads = [[torch.randn(p.shape, generator=generator) for p in start] for _ in range(5)]
    ours = [torch.nn.Parameter(p.clone()) for p in start]
    ref = [torch.nn.Parameter(p.clone()) for p in start]
    hyper = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    cpu_adam = DeepSpeedCPUAdam(ours, adamw_mode=True, **hyper)
    adamw = torch.optim.AdamW(ref, **hyper)
    for step_grads in grads:
        for params, optimizer in ((ours, cpu_adam), (ref, adamw)):
            for p, g in zip(params, step_grads):
                p.grad = g.clone()
            optimizer.step()
    moved = max(float((p - s).abs().max()) for p, s in zip(ref, start))
    assert moved > 1e-2  # five steps of lr 1e-2
    assert max(float((a - b).abs().max()) for a, b in zip(ours, ref)) <= 1e-6
