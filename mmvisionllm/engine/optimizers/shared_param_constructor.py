"""mmengine's optimizer constructor, with a parameter shared by two modules put in one group.

mmengine's ``DefaultOptimWrapperConstructor`` walks every module and adds the parameters each owns
directly, so a parameter registered under two modules lands in two parameter groups and torch
refuses the optimizer ("some parameters appear in more than one parameter group"). peft does that
with a tied LLM (Qwen2-0.5B/1.5B, ``tie_word_embeddings``): the trainable token rows of the LM head
are the same ``trainable_tokens_delta`` as those of the input embedding. This constructor keeps
each parameter's first group (the input embedding's name, so ``paramwise_cfg`` keys match it as
before) and drops the repeats; everything else is mmengine's.
"""
from typing import List

from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from mmvisionllm.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['SharedParamOptimWrapperConstructor']


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SharedParamOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` where a shared parameter joins one group only."""

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', **kwargs) -> None:
        """Add ``module``'s parameter groups to ``params`` (see mmengine), each parameter once."""
        super().add_params(params, module, prefix=prefix, **kwargs)
        if prefix:  # a recursive call: the root call removes the repeats once at the end
            return
        seen, unique = set(), []
        for group in params:
            group_params = [p for p in group['params'] if id(p) not in seen]
            seen.update(id(p) for p in group_params)
            if group_params:
                unique.append({**group, 'params': group_params})
        params[:] = unique
