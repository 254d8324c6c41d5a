"""Mixed precision on any device: mmengine's ``AmpOptimWrapper``, plus bf16 autocast on a CPU.

mmengine's ``AmpOptimWrapper`` asserts that a GPU (or NPU/MLU/MUSA) is present, so a config that
trains in bf16 could not even be smoke-tested on a CPU. On an accelerator this wrapper *is*
``AmpOptimWrapper`` (same loss scaler, same state dict). On a CPU it runs the step under mmengine's
``autocast`` (``torch.autocast('cpu', torch.bfloat16)``) without a loss scaler: bf16 has fp32's
exponent range, so its gradients need no scaling. float16 on a CPU (which needs a ``GradScaler``
the CPU does not offer through mmengine) and FSDP are refused with a message instead of an
assertion.
"""
from typing import Union

import torch
from mmengine.device import get_device
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmvisionllm.registry import OPTIM_WRAPPERS

__all__ = ['AnyDeviceAmpOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class AnyDeviceAmpOptimWrapper(AmpOptimWrapper):
    """``AmpOptimWrapper`` on an accelerator, bf16 autocast without loss scaling on a CPU.

    Args:
        loss_scale (str | float | dict): Loss scaling of ``AmpOptimWrapper`` (accelerators only;
            unused on a CPU).
        dtype (str | torch.dtype): Autocast dtype. On a CPU only ``'bfloat16'``.
        use_fsdp (bool): FSDP's sharded grad scaler (accelerators only).
        **kwargs: Arguments of ``OptimWrapper`` (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 use_fsdp: bool = False,
                 **kwargs) -> None:
        self.on_cpu = get_device() == 'cpu'
        if not self.on_cpu:
            super().__init__(loss_scale=loss_scale, dtype=dtype, use_fsdp=use_fsdp, **kwargs)
            return
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(f'optim_wrapper.dtype={dtype!r} needs a GPU (float16 autocast needs a '
                             "loss scaler); on a CPU use dtype='bfloat16'")
        if use_fsdp:
            raise ValueError('optim_wrapper.use_fsdp=True needs GPUs (FSDP); this run is on a CPU')
        OptimWrapper.__init__(self, **kwargs)
        self._scale_update_param = None
        self.loss_scaler = None
        self.cast_dtype = torch.bfloat16

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Back-propagate (scaled on an accelerator)."""
        if self.on_cpu:
            return OptimWrapper.backward(self, loss, **kwargs)
        return super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        """Update the parameters (through the loss scaler on an accelerator)."""
        if self.on_cpu:
            return OptimWrapper.step(self, **kwargs)
        return super().step(**kwargs)

    def state_dict(self) -> dict:
        """The optimizer state (and the loss scaler's on an accelerator)."""
        if self.on_cpu:
            return OptimWrapper.state_dict(self)
        return super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        """Load an optimizer state; a GPU run's loss-scaler state is dropped on a CPU."""
        if self.on_cpu:
            state_dict = dict(state_dict)
            state_dict.pop('loss_scaler', None)
            return OptimWrapper.load_state_dict(self, state_dict)
        return super().load_state_dict(state_dict)
