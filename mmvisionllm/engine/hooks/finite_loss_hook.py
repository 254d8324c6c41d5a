"""Stop training at the first iteration whose loss is not finite, naming the iteration and loss.

mmdet's ``CheckInvalidLossHook`` does the same job but (a) checks only every ``interval`` (default
50) iterations, (b) looks at the total ``loss`` alone and (c) raises a bare ``AssertionError``
("loss become infinite or NaN!") that names neither the iteration nor the loss term that diverged.
With interval=1 it would stop in time, but the user would still have to dig the culprit out of the
log, so this hook checks every logged loss term after every step and names them. It runs before
:class:`~mmengine.hooks.CheckpointHook` and the logger (priority ``VERY_HIGH``), so no checkpoint of
the diverged weights is written and the exception ends the run with a non-zero exit status.

Diverged weights can also break the forward pass before any loss exists: in the full config an
update at learning rate 1e30 left weights of ~1e30, and the next step failed inside the Hungarian
matcher with scipy's ``matrix contains invalid numeric entries``, naming nothing. The hook
therefore wraps the model's ``train_step``: when it raises, the parameters are scanned (only then)
and, if one is non-finite or larger than ``max_abs_weight`` in magnitude, the error is re-raised as
:class:`NonFiniteLossError` naming the iteration and the parameter (the original error chained).
"""
import math
from typing import Dict, Optional, Tuple

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
        max_abs_weight (float): When a training step raises, a parameter larger than this in
            magnitude (or non-finite) marks the run as diverged. Defaults to 1e15.
    """
    priority = 'VERY_HIGH'

    def __init__(self, key_filter: str = 'loss', max_abs_weight: float = 1e15) -> None:
        self.key_filter = key_filter
        self.max_abs_weight = max_abs_weight

    def _diverged_parameter(self, model) -> Optional[Tuple[str, float]]:
        """The first parameter that is non-finite or above ``max_abs_weight``, with its max."""
        for name, param in model.named_parameters():
            largest = float(param.detach().abs().max()) if param.numel() else 0.0
            if not math.isfinite(largest) or largest > self.max_abs_weight:
                return name, largest
        return None

    def before_train(self, runner) -> None:
        model = runner.model
        train_step = model.train_step

        def checked_train_step(*args, **kwargs):
            try:
                return train_step(*args, **kwargs)
            except NonFiniteLossError:
                raise
            except Exception as error:
                diverged = self._diverged_parameter(model)
                if diverged is None:
                    raise
                raise NonFiniteLossError(
                    f'training stopped at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
                    f'the weights diverged (parameter {diverged[0]} reaches |w| = '
                    f'{diverged[1]:.3g}) and the step failed with {type(error).__name__}: {error}. '
                    'Lower the learning rate or set optim_wrapper.clip_grad.') from error

        model.train_step = checked_train_step

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        if not outputs:
            return
        values = {
            name: _scalar(value)
            for name, value in outputs.items() if self.key_filter in name
        }
        bad = {
            name: value
            for name, value in values.items() if value is not None and not math.isfinite(value)
        }
        if not bad:
            return
        shown = ', '.join(f'{name}={value}' for name, value in values.items() if value is not None)
        raise NonFiniteLossError(
            f'training stopped at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
            f'non-finite loss {", ".join(sorted(bad))} ({shown}). No checkpoint of this step was '
            'written; lower the learning rate or set optim_wrapper.clip_grad.')
