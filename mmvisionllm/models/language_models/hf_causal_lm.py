"""The LLM of VisionLLMv2: any HF causal LM plus its tokenizer.

Reuses ``AutoConfig.for_model``/``AutoModelForCausalLM`` (so LLaMA/Vicuna, Qwen2 and any other HF
causal-LM layout build from the same config) and ``AutoTokenizer``; LoRA comes from peft (see
:mod:`.lora`). Two ways to build:

* tiny, random-init: ``config=dict(model_type='llama', hidden_size=..., ...)`` (``vocab_size``
defaults
  to the tokenizer's size);
* real: ``pretrained_path='checkpoints/vicuna-7b-v1.5'`` (local directory only).

The wrapper is built in three steps driven by VisionLLMv2: construction (weights + tokenizer),
:meth:`add_special_tokens` once the decoders are known, then :meth:`apply_lora`.
"""
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from mmvisionllm.registry import MODELS
from .local_checkpoint import check_local_checkpoint
from .lora import apply_lora
from .special_tokens import add_special_tokens_with_mean_init

__all__ = ['HFCausalLM']


def _torch_dtype(name: Optional[str]) -> Optional[torch.dtype]:
    if name is None or name == 'auto':
        return None
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f'unknown torch dtype {name!r}')
    return dtype


@MODELS.register_module()
class HFCausalLM(BaseModule):
    """A HF causal LM with its tokenizer.

    Args:
        tokenizer_path (str, optional): Local tokenizer directory. Defaults to ``pretrained_path``.
        config (dict, optional): HF config kwargs of a random-init model, with ``model_type``
            (default ``'llama'``). Exclusive with ``pretrained_path``.
        pretrained_path (str, optional): Local ``save_pretrained`` directory of the model.
        torch_dtype (str, optional): Weight dtype, e.g. ``'bfloat16'``. Defaults to float32.
        lora (dict, optional): LoRA settings (kwargs of :func:`apply_lora`: ``r``, ``lora_alpha``,
            ``lora_dropout``, ``target_modules``, ``train_new_tokens``). None disables LoRA.
        gradient_checkpointing (bool): Recompute decoder-layer activations in backward.
        attn_implementation (str, optional): HF attention backend, e.g. ``'sdpa'``.
        embed_scale (float): Factor on the token embeddings fed to the model (image, region and
            query rows are written in afterwards, unscaled). Defaults to 1.0, as a pretrained LLM
            was trained. A small LLM trained from scratch can take ``sqrt(hidden_size)``, Gemma's
            input scaling: its sub-layers grow to outputs hundreds of times the norm of its
            0.02-initialised embeddings, which then no longer tell the words apart after the first
            layer (docs/en/training_recipe.md, "The tiny LLM's embedding scale").
        pad_token (str, optional): A token of the tokenizer to pad with (the official VisionLLM
            v2 release pads with ``'<unk>'``, id 0). None keeps the tokenizer's own.
        init_cfg (dict, optional): Unused: the HF model initialises (or loads) its own weights.
    """

    def __init__(self,
                 tokenizer_path: Optional[str] = None,
                 config: Optional[dict] = None,
                 pretrained_path: Optional[str] = None,
                 torch_dtype: Optional[str] = None,
                 lora: Optional[dict] = None,
                 gradient_checkpointing: bool = False,
                 attn_implementation: Optional[str] = None,
                 embed_scale: float = 1.0,
                 pad_token: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if embed_scale <= 0:
            raise ValueError(f'llm.embed_scale must be positive, got {embed_scale}')
        self.embed_scale = float(embed_scale)
        if (config is None) == (pretrained_path is None):
            raise ValueError('llm: give exactly one of `config` (random init) or `pretrained_path`')
        tokenizer_path = tokenizer_path or pretrained_path
        if tokenizer_path is None:
            raise ValueError('llm.tokenizer_path is required when the LLM is built from `config`')
        key = 'llm.tokenizer_path' if tokenizer_path != pretrained_path else 'llm.pretrained_path'
        self.tokenizer = AutoTokenizer.from_pretrained(
            check_local_checkpoint(tokenizer_path, key), local_files_only=True)
        if pad_token is not None:
            if pad_token not in self.tokenizer.get_vocab():
                raise ValueError(f'llm.pad_token={pad_token!r} is not a token of {tokenizer_path}')
            self.tokenizer.pad_token = pad_token
        dtype = _torch_dtype(torch_dtype)
        extra = {} if attn_implementation is None else dict(attn_implementation=attn_implementation)
        if pretrained_path is not None:
            self.model = AutoModelForCausalLM.from_pretrained(
                check_local_checkpoint(pretrained_path, 'llm.pretrained_path'),
                local_files_only=True,
                dtype=dtype,
                **extra)
        else:
            hf_kwargs = dict(config)
            model_type = hf_kwargs.pop('model_type', 'llama')
            hf_kwargs.setdefault('vocab_size', len(self.tokenizer))
            if hf_kwargs['vocab_size'] < len(self.tokenizer):
                raise ValueError(
                    f"llm.config.vocab_size={hf_kwargs['vocab_size']} is smaller than the "
                    f'tokenizer ({len(self.tokenizer)} tokens)')
            hf_config = AutoConfig.for_model(model_type, **hf_kwargs, **extra)
            self.model = AutoModelForCausalLM.from_config(hf_config)
            if dtype is not None:
                self.model.to(dtype)
        self.lora_cfg = lora
        self.gradient_checkpointing = gradient_checkpointing
        self.added_token_ids: Dict[str, int] = {}

    @property
    def hidden_size(self) -> int:
        """Width C of the LLM hidden states."""
        return self.model.config.hidden_size

    def init_weights(self) -> None:
        """Keep the HF weights (HF's ``init_weights`` would re-initialise a loaded checkpoint)."""

    def add_special_tokens(self, tokens: Sequence[str]) -> Dict[str, int]:
        """Add special tokens (mean-initialised rows); returns token -> id for all of them."""
        if self.lora_cfg is not None and hasattr(self.model, 'peft_config'):
            raise RuntimeError('add special tokens before apply_lora()')
        ids = add_special_tokens_with_mean_init(self.tokenizer, self.model, tokens)
        self.added_token_ids.update(ids)
        return ids

    def apply_lora(self) -> None:
        """Wrap the model with LoRA (when configured) and enable gradient checkpointing (when
        asked).

        Call once, after :meth:`add_special_tokens`.
        """
        if self.gradient_checkpointing:
            enable = getattr(self.model, 'activation_checkpointing_enable', None)
            if enable is not None:
                enable(activation_checkpointing_kwargs=dict(use_reentrant=False))
            else:
                self.model.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs=dict(use_reentrant=False))
        if self.lora_cfg is not None:
            self.model = apply_lora(
                self.model,
                new_token_ids=sorted(set(self.added_token_ids.values())),
                **self.lora_cfg)
            self._register_load_state_dict_pre_hook(self._rename_plain_checkpoint_keys)

    @staticmethod
    def plain_key(peft_key: str) -> str:
        """The name a peft-wrapped parameter had before LoRA, e.g.
        ``base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight`` ->
        ``model.layers.0.self_attn.q_proj.weight``."""
        if peft_key.startswith('base_model.model.'):
            peft_key = peft_key[len('base_model.model.'):]
        return peft_key.replace('.token_adapter', '').replace('.base_layer', '')

    def _rename_plain_checkpoint_keys(self, state_dict: dict, prefix: str, *args) -> None:
        """Let a LoRA model load a checkpoint saved without LoRA (a stage-1 checkpoint into a
        stage-2 model): plain weight names are renamed to the peft names; LoRA matrices and token
        deltas keep their initial values (an identity update)."""
        model_prefix = prefix + 'model.'
        for key in self.model.state_dict():
            plain = model_prefix + self.plain_key(key)
            if model_prefix + key not in state_dict and plain in state_dict:
                state_dict[model_prefix + key] = state_dict.pop(plain)

    def get_input_embeddings(self) -> nn.Module:
        """The token embedding module (LoRA/peft-aware)."""
        return self.model.get_input_embeddings()

    def embed(self, input_ids: Tensor) -> Tensor:
        """Token embeddings, times ``embed_scale``.

        Args:
            input_ids (Tensor): [B, L] token ids.

        Returns:
            Tensor: [B, L, C] embeddings.
        """
        embeds = self.get_input_embeddings()(input_ids)
        return embeds if self.embed_scale == 1.0 else embeds * self.embed_scale

    def forward(self, **kwargs):
        """Call the HF model (``inputs_embeds``, ``attention_mask``, ``labels``, cache ...)."""
        return self.model(**kwargs)
