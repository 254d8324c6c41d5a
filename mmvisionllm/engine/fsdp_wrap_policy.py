"""FSDP auto-wrap policy for VisionLLM v2: units for the LLM's layers and the decoders' big parts.

MMEngine's ``FSDPStrategy`` hands ``model_wrapper.auto_wrap_policy`` to torch's
``FullyShardedDataParallel``; a dict ``type`` is looked up in the ``FUNCTIONS`` registry and its
other keys are bound with ``functools.partial``. torch's own ``ModuleWrapPolicy`` needs the
classes themselves, which a text config cannot hold, and the LLM's layer class depends on the
checkpoint (``LlamaDecoderLayer`` for Vicuna, ``Qwen2DecoderLayer`` ...), so this policy matches
class *names* — the same contract as ``ModuleWrapPolicy`` (torch's ``_module_wrap_policy``: wrap
a module whose class is listed, always recurse), with names in place of classes.

Units: every transformer layer of the LLM and of the CLIP tower (the memory that matters: 32
layers of 202 M parameters each for Vicuna-7B) and, in the decoders, the parts they call through
``forward``: Grounding DINO's backbone, encoder and decoder, UniPose's backbone and decoder, the
diffusion UNet. FSDP gathers a unit's parameters in its forward hooks, so a unit must be entered
through ``__call__``; a decoder plugin as a whole cannot be one (the core calls its ``loss`` and
``predict``, which would run on the sharded flat parameters). The projector, region encoder,
query tables and the decoders' heads stay in the root unit, gathered for the whole step.
"""
from typing import Sequence

from torch import nn

from mmvisionllm.registry import FUNCTIONS

__all__ = ['visionllm_wrap_policy', 'DEFAULT_WRAP_CLASSES']

DEFAULT_WRAP_CLASSES = (
    # LLM and CLIP layers
    'LlamaDecoderLayer',
    'Qwen2DecoderLayer',
    'MistralDecoderLayer',
    'CLIPEncoderLayer',
    # detection decoder (mmdet) and pose decoder
    'ResNet',
    'SwinTransformer',
    'GroundingDinoTransformerEncoder',
    'GroundingDinoTransformerDecoder',
    'UniPoseTransformerDecoder',
    # generation / editing decoders (diffusers)
    'UNet2DConditionModel')


@FUNCTIONS.register_module()
def visionllm_wrap_policy(module: nn.Module,
                          recurse: bool,
                          nonwrapped_numel: int,
                          class_names: Sequence[str] = DEFAULT_WRAP_CLASSES) -> bool:
    """torch FSDP auto-wrap policy: wrap modules whose class name is in ``class_names``.

    Args:
        module (nn.Module): the module FSDP asks about.
        recurse (bool): True when FSDP asks whether to descend into ``module``'s children.
        nonwrapped_numel (int): parameters not yet wrapped below ``module`` (unused, as in torch's
            ``ModuleWrapPolicy``).
        class_names (Sequence[str]): class names that become FSDP units.

    Returns:
        bool: always True when ``recurse``; else whether ``module`` becomes a unit.
    """
    if recurse:
        return True
    return type(module).__name__ in set(class_names)
