"""Adapter-style checkpoints: save what trains, rebuild the frozen base from its folders.

Reuses mmengine's checkpoint hooks (``before_save_checkpoint`` edits the checkpoint dict the runner
is about to write; ``after_load_checkpoint`` sees a loaded one before it reaches the model), so
``CheckpointHook``, ``resume`` and ``tools/test.py`` work unchanged. Which tensors are base weights
is decided by :mod:`mmvisionllm.models.mllm.base_weights`.
"""
from typing import Set

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmvisionllm.models.mllm.base_weights import restore_base_weights, strip_base_weights
from mmvisionllm.registry import HOOKS

__all__ = ['AdapterCheckpointHook']


@HOOKS.register_module()
class AdapterCheckpointHook(Hook):
    """Leave the frozen base weights out of saved checkpoints and put them back when loading.

    A saved checkpoint holds the trainable tensors (LoRA matrices, new token rows, projector,
    region encoder, query tables, decoders), the optimizer state, and in
    ``meta['adapter_checkpoint']`` the folders the frozen parts came from and the names it left
    out. Loading one (``resume``, ``load_from``, ``tools/test.py``) fills those names from the
    model, which the config built from the same folders, so the model loads every tensor and a
    resumed run continues exactly. A full checkpoint still loads as before.

    A frozen base tensor whose loaded value differs from its folder's (an LLM trained in full in
    stage 1 and frozen under LoRA in stage 2) is kept in later checkpoints: it cannot be rebuilt
    from the folder. To keep stage 2's checkpoints small, merge stage 1 into a folder first
    (``tools/model_converters/merge_lora.py --hf-dir``) and point ``llm.pretrained_path`` there.

    Args:
        enabled (bool): Strip on save. Loading always restores. Defaults to True.
    """

    priority = 'VERY_LOW'  # after other hooks edited the checkpoint (EMA swaps weights first)

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.kept: Set[str] = set()

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Complete an adapter checkpoint from the model; note base weights the file changes."""
        self.kept |= restore_base_weights(self._model(runner), checkpoint, runner.logger)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Strip the base weights (except those a loaded checkpoint changed)."""
        if not self.enabled:
            return
        removed = strip_base_weights(self._model(runner), checkpoint, keep=self.kept)
        runner.logger.debug(f'AdapterCheckpointHook: {len(removed)} base tensors left out')
