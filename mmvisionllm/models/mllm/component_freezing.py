"""Freezing whole components of VisionLLMv2 by name (the stage recipes).

Component names are attribute paths of the model: ``vision_encoder``, ``projector``, ``llm``,
``region_encoder``, ``super_link`` (the query tables), ``decoders`` or ``decoders.<group>``.
Freezing the ``llm`` of a LoRA model freezes its adapters too (stage 3: decoders and query tables
only).

Plain ``requires_grad`` toggling: mmengine's ``paramwise_cfg`` sets per-parameter learning rates but
has no notion of a frozen component, and peft already freezes the base LLM under LoRA.
"""
from typing import Sequence

from torch import nn

__all__ = ['freeze_components']


def freeze_components(model: nn.Module, names: Sequence[str]) -> None:
    """Set ``requires_grad=False`` on every parameter of the named sub-modules.

    Args:
        model (nn.Module): The model.
        names (Sequence[str]): Dotted sub-module names.

    Raises:
        KeyError: If a name is not a sub-module of ``model``.
    """
    for name in names:
        try:
            component = model.get_submodule(name)
        except AttributeError as error:
            raise KeyError(
                f'frozen_components: {name!r} is not a component of {type(model).__name__} '
                f'({sorted(n for n, _ in model.named_children())})') from error
        for parameter in component.parameters():
            parameter.requires_grad_(False)
