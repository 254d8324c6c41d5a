"""FLOPs of a VisionLLM v2 training step and the model FLOPs utilisation (MFU).

Model FLOPs of one training step (a multiply-add = 2 FLOPs; backward = 2 x forward):

* LLM: ``6 * N_llm * T + 12 * L * d * sum_b(s_b ** 2)``. ``N_llm`` = the parameters the tokens
  pass through (every transformer layer and the LM head; the input embedding table is a lookup),
  ``T`` = the real (unpadded) tokens of the step, ``s_b`` the length of sample b, ``L`` layers of
  width ``d``; the second term is the attention scores and their weighted sum (``QK^T`` and
  ``AV``: ``2 * 2 * s^2 * d`` per layer forward, x3 with backward), counted without the causal
  halving, as PaLM's MFU (Chowdhery et al. 2022, appendix B) does. The 6·N convention counts the
  weight gradients also for frozen/LoRA weights, so MFU is comparable across stages.
* Vision tower (frozen in every stage of the paper: forward only, x1; x3 if it trains):
  ``2 * N_vis * T_vis + 4 * L_vis * d_vis * sum_tiles(s_tile ** 2)``.
* Decoders: counted, not modelled — a CNN backbone, deformable attention and Hungarian matching
  have no ``6 * N * tokens`` form. :func:`count_flops` runs ``torch.utils.flop_counter.
  FlopCounterMode`` over one forward + backward and reports per top-level module; it counts
  matmuls, convolutions and SDPA, not ``grid_sample`` (mmcv's PyTorch deformable attention), so
  the decoder figure is a lower bound.

``MFU = step FLOPs / step seconds / (world_size * peak FLOP/s of one device)``.
"""
import time
from typing import Dict, Optional, Sequence

import torch

__all__ = [
    'llm_step_flops', 'vision_step_flops', 'mfu', 'measured_matmul_flops', 'known_peak_flops',
    'count_flops'
]

# dense bf16 tensor-core peaks (vendor data sheets, no sparsity)
_GPU_PEAK_BF16 = {'H200': 989e12, 'H100': 989e12, 'A100': 312e12, 'L40S': 362e12, 'A10': 125e12}


def llm_step_flops(num_params: int, num_layers: int, hidden: int, seq_lens: Sequence[int]) -> float:
    """``6 * N * T + 12 * L * d * sum(s^2)`` (see the module docstring)."""
    tokens = float(sum(seq_lens))
    return 6.0 * num_params * tokens + 12.0 * num_layers * hidden * float(
        sum(float(s)**2 for s in seq_lens))


def vision_step_flops(num_params: int,
                      num_layers: int,
                      hidden: int,
                      tile_lens: Sequence[int],
                      trains: bool = False) -> float:
    """``2 * N * T + 4 * L * d * sum(s^2)`` forward, x3 when the tower trains."""
    forward = 2.0 * num_params * float(sum(tile_lens)) + 4.0 * num_layers * hidden * float(
        sum(float(s)**2 for s in tile_lens))
    return forward * (3.0 if trains else 1.0)


def mfu(step_flops: float,
        step_seconds: float,
        peak_flops: Optional[float],
        world_size: int = 1) -> Optional[float]:
    """Model FLOPs utilisation, or None without a peak."""
    if not peak_flops or step_seconds <= 0:
        return None
    return step_flops / step_seconds / (world_size * peak_flops)


def known_peak_flops(device: torch.device) -> Optional[float]:
    """Dense bf16 peak FLOP/s of a known CUDA device (None for others and CPUs)."""
    if device.type != 'cuda':
        return None
    name = torch.cuda.get_device_name(device)
    for key, value in _GPU_PEAK_BF16.items():
        if key in name:
            return value
    return None


def measured_matmul_flops(size: int = 1024, seconds: float = 0.5) -> float:
    """FLOP/s of fp32 ``size x size`` matmuls on the CPU with torch's current threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2.0 * size**3 * count / (time.perf_counter() - start)


def count_flops(run, depth: int = 2) -> Dict[str, float]:
    """FLOPs of ``run()`` per module prefix (``FlopCounterMode``; see the module docstring).

    Args:
        run (callable): does one forward + backward.
        depth (int): module depth of the breakdown (``decoders.det`` is depth 2 under the
            model).

    Returns:
        dict[str, float]: ``'total'`` and the FLOPs of each module path up to ``depth``.
    """
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False, depth=depth)
    with counter:
        run()
    out = {'total': float(counter.get_total_flops())}
    for name, per_op in counter.get_flop_counts().items():
        if name != 'Global':
            out[name] = float(sum(per_op.values()))
    return out
