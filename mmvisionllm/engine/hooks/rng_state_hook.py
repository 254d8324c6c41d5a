"""Save the random number generators in every checkpoint and restore them on resume.

MMEngine's checkpoints hold the model, optimizer, schedulers and message hub but not the state of
the global generators of torch (CPU and CUDA), numpy and python's ``random``. The decoders draw
from them in the main process at every step (denoising noise, diffusion noise and timesteps, the
points sampled inside region masks), and so does the data pipeline when it runs in the main
process (``num_workers=0``). A resumed run therefore re-seeded them from ``randomness.seed`` and
drifted away from the uninterrupted run from its first step. This hook puts the generators of every
rank into the checkpoint (``checkpoint['rng_states']``, a list indexed by rank) and restores them
when a run resumes, so that a resumed run is the same run bit for bit.

Rules (documented in docs/en/fault_tolerance.md):

* the states are restored only on resume (``runner.iter > 0`` once the checkpoint is loaded); a
  ``load_from`` of another stage's checkpoint starts the new stage from its own seed as before;
* :class:`~mmengine.runner.IterBasedTrainLoop` re-reads the batches it already trained on before
  it continues (its "Advance dataloader" skip), which draws from the generators when the pipeline
  runs in the main process; the states are therefore restored *after* that skip, right before the
  first new batch is fetched (the moment the checkpoint was taken in the uninterrupted run);
* validation inside training saves and restores the training generators around itself
  (``isolate_val=True``), because a resumed run does not repeat the validation that the
  uninterrupted run did before its checkpoint was used. This is the only change to an
  uninterrupted run, and only to runs that validate while training;
* dataloader workers are not touched: MMEngine seeds each worker from ``randomness.seed``, the rank
  and the worker id (``worker_init_fn``), and the skip replays their batches.
"""
import logging
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info, is_distributed
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from ...registry import HOOKS

__all__ = ['RNGStateHook', 'get_rng_state', 'set_rng_state']


def get_rng_state() -> Dict[str, object]:
    """The states of the torch (CPU, CUDA), numpy and python generators of this process."""
    state = dict(torch=torch.get_rng_state(), numpy=np.random.get_state(), python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, object]) -> None:
    """Restore the states returned by :func:`get_rng_state`."""
    torch.set_rng_state(state['torch'])
    np.random.set_state(state['numpy'])
    python = state['python']
    # weights_only loading gives lists where python's getstate() gave tuples
    random.setstate((python[0], tuple(python[1]), python[2]))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfterSkip:
    """Wraps the loop's dataloader iterator: restores the generators before batch ``skip + 1``."""

    def __init__(self, iterator, skip: int, state: Dict[str, object], on_restore) -> None:
        self._iterator = iterator
        self._remaining = skip
        self._state = state
        self._on_restore = on_restore

    def __iter__(self):
        return self

    def __next__(self):
        if self._remaining == 0 and self._state is not None:
            set_rng_state(self._state)
            self._state = None
            self._on_restore()
        self._remaining -= 1
        return next(self._iterator)

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Checkpoint the global random generators of every rank and restore them on resume.

    Args:
        isolate_val (bool): Keep validation inside training from consuming the training
            generators (see the module docstring). Defaults to True.
    """
    priority = 'VERY_HIGH'

    def __init__(self, isolate_val: bool = True) -> None:
        self.isolate_val = isolate_val
        self._loaded: Optional[Dict[str, object]] = None
        self._val_state: Optional[Dict[str, object]] = None
        self._gathered: Optional[List[Dict[str, object]]] = None

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._gathered = None  # the states of the last gather are stale once a step starts

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._gather_if_distributed()

    def after_train_epoch(self, runner) -> None:
        self._gather_if_distributed()

    def _gather_if_distributed(self) -> None:
        # Gathered here, where every rank calls the hook (before CheckpointHook: VERY_HIGH):
        # the plain Runner saves on rank 0 only (``save_checkpoint`` is master_only), so a
        # collective inside ``before_save_checkpoint`` left rank 0 waiting for the others
        # (the two-rank DDP test hung at its first checkpoint).
        if is_distributed():
            self._gathered = all_gather_object(get_rng_state())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not is_distributed():
            checkpoint['rng_states'] = [get_rng_state()]
        elif self._gathered is not None:
            checkpoint['rng_states'] = self._gathered
        else:  # a save outside a training step: only FlexibleRunner calls it on every rank
            checkpoint['rng_states'] = all_gather_object(get_rng_state())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('rng_states')
        self._loaded = None
        if states is None:
            return
        rank, world_size = get_dist_info()
        if len(states) != world_size:
            print_log(
                f'RNGStateHook: the checkpoint holds random states of {len(states)} rank(s) but '
                f'this run has {world_size}; a resumed run draws new random numbers',
                logger='current',
                level=logging.WARNING)
            return
        self._loaded = states[rank]

    def before_train(self, runner) -> None:
        state, self._loaded = self._loaded, None
        if state is None or runner.iter == 0:  # load_from of another stage, not a resume
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and runner.iter > 0:
            loop.dataloader_iterator = _RestoreAfterSkip(
                loop.dataloader_iterator, runner.iter, state, lambda: print_log(
                    f'RNGStateHook: random states of iteration {runner.iter} '
                    'restored',
                    logger='current'))
        else:
            set_rng_state(state)
            print_log(
                f'RNGStateHook: random states of epoch {runner.epoch} restored', logger='current')

    def before_val(self, runner) -> None:
        if self.isolate_val and self._in_training(runner):
            self._val_state = get_rng_state()

    def after_val(self, runner) -> None:
        if self._val_state is not None:
            set_rng_state(self._val_state)
            self._val_state = None

    @staticmethod
    def _in_training(runner) -> bool:
        """Whether validation runs inside ``runner.train()`` (its train loop is built)."""
        from mmengine.runner import BaseLoop
        return isinstance(getattr(runner, '_train_loop', None), BaseLoop)
