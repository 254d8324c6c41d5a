"""LoRA on the LLM through peft.

Reuses peft's ``LoraConfig``/``get_peft_model``: after it, only the LoRA matrices train (the base
weights are frozen by peft). With ``train_new_tokens`` the rows of the tokens mmvisionllm added
(routing tokens, ``<image>``...) also train, through peft's ``trainable_token_indices`` (a delta on
those rows only, in the input and the untied output embeddings; a tied LM head, as Qwen2-0.5B's,
shares the input's delta, which :class:`~mmvisionllm.engine.SharedParamOptimWrapperConstructor`
puts in one parameter group): without it a frozen LM head could hardly learn to emit a routing
token that starts as the mean of all rows.
"""
from typing import Optional, Sequence

from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn
from transformers import PreTrainedModel

__all__ = ['apply_lora']


def _child_name(model: nn.Module, module: Optional[nn.Module]) -> Optional[str]:
    """The last component of ``module``'s name inside ``model`` (peft matches modules by it)."""
    if module is None:
        return None
    for name, candidate in model.named_modules():
        if candidate is module:
            return name.split('.')[-1]
    return None


def apply_lora(model: PreTrainedModel,
               r: int = 32,
               lora_alpha: int = 64,
               lora_dropout: float = 0.05,
               target_modules: Sequence[str] = ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj',
                                                'up_proj', 'down_proj'),
               new_token_ids: Sequence[int] = (),
               train_new_tokens: bool = True) -> PeftModel:
    """Wrap ``model`` with LoRA adapters.

    Args:
        model (PreTrainedModel): The HF causal LM.
        r (int): LoRA rank. Defaults to 32 (the paper's stage 2).
        lora_alpha (int): LoRA scaling alpha. Defaults to 64.
        lora_dropout (float): Dropout on the LoRA input. Defaults to 0.05.
        target_modules (Sequence[str]): Names of the linear layers that get adapters.
        new_token_ids (Sequence[int]): Ids of the tokens added by mmvisionllm.
        train_new_tokens (bool): Make the rows of ``new_token_ids`` trainable. Defaults to True.

    Returns:
        PeftModel: The wrapped model.
    """
    trainable_token_indices = None
    if train_new_tokens and new_token_ids:
        trainable_token_indices = {}
        input_name = _child_name(model, model.get_input_embeddings())
        trainable_token_indices[input_name] = list(new_token_ids)
        output_embeddings = model.get_output_embeddings()
        # HF ties by sharing the Parameter (a data_ptr test would call any two meta tensors tied)
        tied = output_embeddings is not None and \
            output_embeddings.weight is model.get_input_embeddings().weight
        if output_embeddings is not None and not tied:
            trainable_token_indices[_child_name(model, output_embeddings)] = list(new_token_ids)
    config = LoraConfig(
        r=r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=list(target_modules),
        trainable_token_indices=trainable_token_indices,
        task_type='CAUSAL_LM')
    return get_peft_model(model, config)
