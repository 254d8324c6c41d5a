"""MMEngine's Runner with checked checkpoint loading (see :mod:`.checkpoint_loading`), whose
dataloader workers die with the run.

MMEngine's ``Runner.load_checkpoint`` hard-wires a non-strict load whose problems are only logged;
its ``resume`` and ``test`` call it with the default ``strict=False`` and offer no option to change
that, so the override has to live in a Runner subclass (selected with ``runner_type`` in
``configs/_base_/default_runtime.py``; ``tools/train.py``/``tools/test.py`` build
``runner_type`` runners). Everything else is MMEngine's: the file is read by its
``_load_checkpoint`` (the weights-only loader of :mod:`mmvisionllm.utils.weights_only_loader`) and
the ``after_load_checkpoint`` hooks run as before.

Dataloader workers: a SIGKILLed training process left its (persistent) workers running — torch's
workers notice a dead parent only between batches, every 5 s, and a worker whose result queue is
full hangs on exit. ``build_dataloader`` therefore wraps MMEngine's ``worker_init_fn`` (its seeding
is unchanged) so that each worker first asks Linux to SIGKILL it when its parent dies
(``prctl(PR_SET_PDEATHSIG)``; a no-op elsewhere).
"""
import ctypes
import signal
import sys
from typing import Callable, Optional, Union

from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from ..registry import RUNNERS
from .checkpoint_loading import load_checked_state_dict

__all__ = ['CheckedLoadRunner', 'DieWithParent']

PR_SET_PDEATHSIG = 1


class DieWithParent:
    """A DataLoader ``worker_init_fn``: set the parent-death signal, then call ``init_fn``."""

    def __init__(self, init_fn: Optional[Callable] = None) -> None:
        self.init_fn = init_fn

    def __call__(self, worker_id: int) -> None:
        if sys.platform.startswith('linux'):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if self.init_fn is not None:
            self.init_fn(worker_id)


@RUNNERS.register_module()
class CheckedLoadRunner(Runner):
    """A Runner that refuses a checkpoint that does not fit its model.

    ``load_from`` of a training run loads non-strictly (stage transitions) but refuses a checkpoint
    that loads nothing; resuming, testing and validating load strictly.
    """
    _strict_load = False

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        load_checked_state_dict(
            model, checkpoint, filename, strict or self._strict_load, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def _strictly(self, method: Callable, *args, **kwargs):
        self._strict_load = True
        try:
            return method(*args, **kwargs)
        finally:
            self._strict_load = False

    def resume(self, filename: str, *args, **kwargs) -> None:
        return self._strictly(super().resume, filename, *args, **kwargs)

    def test(self) -> dict:
        return self._strictly(super().test)

    def val(self) -> dict:
        return self._strictly(super().val)

    @staticmethod
    def build_dataloader(dataloader, seed: Optional[int] = None, diff_rank_seed: bool = False):
        loader = Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
        if getattr(loader, 'num_workers',
                   0) > 0 and not isinstance(loader.worker_init_fn, DieWithParent):
            loader.worker_init_fn = DieWithParent(loader.worker_init_fn)
        return loader
