"""Stop training at the first iteration whose loss is not finite, naming the iteration and loss.

mmdet's ``CheckInvalidLossHook`` does the same job but (a) checks only every ``interval`` (default
50) iterations, (b) looks at the total ``loss`` alone and (c) raises a bare ``AssertionError``
("loss become infinite or NaN!") that names neither the iteration nor the loss term that diverged.
With interval=1 it would stop in time, but the user would still have to dig the culprit out of the
log, so this hook checks every logged loss term after every step and names them. It runs before
:class:`~mmengine.hooks.CheckpointHook` and the logger (priority ``VERY_HIGH``), so no checkpoint of
the diverged weights is written and the exception ends the run with a non-zero exit status.
"""
import math
from typing import Dict, Optional

from mmengine.hooks import Hook

from ...registry import HOOKS

__all__ = ['FiniteLossHook', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite."""


def _scalar(value) -> Optional[float]:
    """``value`` as a float if it is a number or a one-element tensor, else None."""
    if hasattr(value, 'numel'):
        return float(value.detach().float().item()) if value.numel() == 1 else None
    if isinstance(value, (int, float)):
        return float(value)
    return None


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when a logged loss term is NaN or infinite.

    Args:
        key_filter (str): Only entries of the step's log variables whose name contains this string
            are checked (MMEngine logs the total as ``loss`` and the terms as ``loss_*``).
            Defaults to ``'loss'``.
    """
    priority = 'VERY_HIGH'

    def __init__(self, key_filter: str = 'loss') -> None:
        self.key_filter = key_filter

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        if not outputs:
            return
        values = {name: _scalar(value) for name, value in outputs.items()
                  if self.key_filter in name}
        bad = {name: value for name, value in values.items()
               if value is not None and not math.isfinite(value)}
        if not bad:
            return
        shown = ', '.join(f'{name}={value}' for name, value in values.items() if value is not None)
        raise NonFiniteLossError(
            f'training stopped at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
            f'non-finite loss {", ".join(sorted(bad))} ({shown}). No checkpoint of this step was '
            'written; lower the learning rate or set optim_wrapper.clip_grad.')
