"""Loading a checkpoint saved with fewer special tokens: rows kept by token string.

A model records its vocabulary (the string of every token id) in its state dict, as the uint8
buffer ``token_vocabulary``. When a checkpoint is loaded (``load_from``, ``tools/test.py``,
``load_checkpoint``) a state-dict pre-hook compares the checkpoint's vocabulary with the model's
and rewrites the token-indexed tensors of the checkpoint before torch copies them:

* every token of the checkpoint keeps its saved input and output embedding row, wherever its id
  is now (new routing tokens are appended, so in practice the ids do not move);
* a token the checkpoint lacks gets the mean of the checkpoint's rows (the same mean
  initialisation as :func:`add_special_tokens_with_mean_init`);
* under LoRA the rows peft trains (``trainable_token_indices``) are mapped the same way;
* decoders and query tables the checkpoint lacks keep their initialisation;

and logs exactly which tokens, query tables and decoders were new. A checkpoint of a model from
before the buffer existed is read as holding the first rows of the current vocabulary (the core's
token order never changed: new tokens were always appended), with a warning saying so.

Why our own: mmengine loads with ``strict=False`` and only warns about a shape mismatch (the
embedding would then stay at its fresh initialisation), and neither HF ``resize_token_embeddings``
nor peft knows which string a checkpoint row belonged to.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

__all__ = ['VOCABULARY_KEY', 'encode_vocabulary', 'decode_vocabulary', 'VocabularyExtender']

#: Name of the buffer holding the vocabulary in the state dict.
VOCABULARY_KEY = 'token_vocabulary'
_SEPARATOR = 0  # a NUL byte separates the token strings


def encode_vocabulary(tokens: Sequence[str]) -> Tensor:
    """Token strings (in id order) -> uint8 [n_bytes] tensor."""
    data = b'\x00'.join(token.encode('utf-8') for token in tokens)
    return torch.tensor(list(data), dtype=torch.uint8)


def decode_vocabulary(buffer: Tensor) -> List[str]:
    """Inverse of :func:`encode_vocabulary`."""
    return bytes(buffer.cpu().tolist()).decode('utf-8').split('\x00')


def _plain_name(key: str) -> str:
    """A parameter name without the peft wrappers (``base_model.model.``, ``token_adapter``,
    ``base_layer``), e.g. ``model.embed_tokens.weight``."""
    if key.startswith('base_model.model.'):
        key = key[len('base_model.model.'):]
    return key.replace('.token_adapter', '').replace('.base_layer', '')


class VocabularyExtender:
    """Rewrites the token-indexed tensors of a state dict for a model with more tokens.

    Args:
        llm (nn.Module): The model's ``HFCausalLM`` (its ``model``, ``tokenizer`` and
            ``added_token_ids``).
        llm_prefix (str): The LLM's name inside the model, e.g. ``'llm.'``.
    """

    def __init__(self, llm: nn.Module, llm_prefix: str = 'llm.') -> None:
        self.llm = llm
        self.llm_prefix = llm_prefix

    def vocabulary(self) -> List[str]:
        """The string of every token id of the LLM's tokenizer."""
        tokenizer = self.llm.tokenizer
        return tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))

    # ------------------------------------------------------------------ names
    def _embedding_names(self) -> Dict[str, str]:
        """``'input'``/``'output'`` -> plain name (``model.embed_tokens``, ``lm_head``)."""
        hf_model = self.llm.model
        base = hf_model.get_base_model() if hasattr(hf_model, 'get_base_model') else hf_model
        names = {}
        for role, module in (('input', base.get_input_embeddings()),
                             ('output', base.get_output_embeddings())):
            for name, candidate in base.named_modules():
                if candidate is module:
                    names[role] = name
                    break
        return names

    def _token_indexed_keys(self, prefix: str) -> List[tuple]:
        """(current key, plain key, role, kind) of every token-indexed tensor of the model;
        kind is ``'rows'`` (a weight [V, C]) or ``'delta'`` (peft's trainable rows)."""
        modules = self._embedding_names()
        found = []
        for key in self.llm.model.state_dict(keep_vars=True):
            plain = _plain_name(key)
            for role, module_name in modules.items():
                if plain == f'{module_name}.weight':
                    found.append((f'{prefix}model.{key}', f'{prefix}model.{plain}', role, 'rows'))
                elif plain == f'{module_name}.trainable_tokens_delta.default':
                    found.append((f'{prefix}model.{key}', None, role, 'delta'))
        return found

    def _delta_indices(self, role: str) -> Optional[List[int]]:
        hf_model = self.llm.model
        base = hf_model.get_base_model() if hasattr(hf_model, 'get_base_model') else hf_model
        module = base.get_input_embeddings() if role == 'input' else base.get_output_embeddings()
        adapter = getattr(module, 'token_adapter', None)
        return None if adapter is None else list(adapter.token_indices['default'])

    # ------------------------------------------------------------------ rewrite
    def extend(self, state_dict: dict, prefix: str, saved: Optional[List[str]]) -> dict:
        """Rewrite ``state_dict`` (in place) for the current vocabulary.

        Args:
            state_dict (dict): The checkpoint's state dict (keys with ``prefix``).
            prefix (str): The model's prefix in ``state_dict``.
            saved (list[str], optional): The checkpoint's vocabulary, or None when the checkpoint
                does not record one.

        Returns:
            dict: ``new_tokens`` (the current tokens the checkpoint lacked), ``dropped_tokens``
            (checkpoint tokens the model lacks), ``moved`` (tokens whose id changed).
        """
        current = self.vocabulary()
        keys = self._token_indexed_keys(prefix + self.llm_prefix)
        if saved is None:
            rows = self._saved_rows(state_dict, keys)
            saved = current[:rows] if rows is not None and rows < len(current) else current
            if saved is not current:
                print_log(
                    f'the checkpoint records no {VOCABULARY_KEY}: its {rows} embedding rows are '
                    f'read as the first {rows} tokens of the current vocabulary of '
                    f'{len(current)} (the core always appended new tokens)',
                    logger='current',
                    level=30)
        old_id = {token: i for i, token in enumerate(saved)}
        current_set = set(current)
        report = dict(
            new_tokens=[t for t in current if t not in old_id],
            dropped_tokens=[t for t in saved if t not in current_set],
            moved=[t for i, t in enumerate(current) if t in old_id and old_id[t] != i])
        remap = any(report.values())
        rows_source: Dict[str, str] = {}
        for key, plain, role, kind in sorted(keys, key=lambda k: k[3] == 'delta'):
            source = key if key in state_dict else plain if plain in state_dict else None
            if kind == 'rows':
                if source is not None:
                    rows_source[role] = source
                    if remap:
                        state_dict[source] = self._remap_rows(state_dict[source], key, current,
                                                              old_id, len(saved))
            elif role in rows_source:
                rows = state_dict[rows_source[role]]
                if source is None:  # saved without LoRA: peft's rows start from the saved rows
                    state_dict[key] = rows[self._delta_indices(role)].clone()
                elif remap:
                    state_dict[source] = self._remap_delta(state_dict[source], role, current, saved,
                                                           old_id, rows)
        return report

    @staticmethod
    def _saved_rows(state_dict: dict, keys: List[tuple]) -> Optional[int]:
        for key, plain, _, kind in keys:
            for name in (key, plain):
                if kind == 'rows' and name in state_dict:
                    return int(state_dict[name].shape[0])
        return None

    def _remap_rows(self, old: Tensor, key: str, current: List[str], old_id: Dict[str, int],
                    num_saved: int) -> Tensor:
        """[V_old, C] checkpoint rows -> [V_now, C] rows by token string; new tokens get the mean
        of the checkpoint's token rows; padding rows past the tokenizer keep their position."""
        target = self.llm.model.state_dict(keep_vars=True)[self._local(key)]
        rows = torch.empty(target.shape, dtype=old.dtype)
        rows.copy_(target.detach().to(old.dtype))
        mean = old[:num_saved].mean(0)
        index_now, index_old = [], []
        for i, token in enumerate(current):
            if token in old_id:
                index_now.append(i)
                index_old.append(old_id[token])
            else:
                rows[i] = mean
        rows[index_now] = old[index_old]
        for i in range(len(current), min(rows.shape[0], old.shape[0])):  # padding rows
            rows[i] = old[i]
        return rows

    def _remap_delta(self, old: Tensor, role: str, current: List[str], saved: List[str],
                     old_id: Dict[str, int], rows: Tensor) -> Tensor:
        """peft's trainable rows [k_old, C] -> [k_now, C]; a token that had none takes its (already
        remapped) row of the full weight, as peft initialises them."""
        indices_now = self._delta_indices(role)
        added_now = {current[i] for i in indices_now}
        indices_old = sorted(old_id[t] for t in added_now if t in old_id)
        if len(indices_old) != old.shape[0]:
            raise ValueError(
                f'the checkpoint has {old.shape[0]} trainable token rows of the {role} embedding '
                f'but {len(indices_old)} of the model\'s added tokens are in its vocabulary; it '
                'was saved by a model with other special tokens')
        position_old = {saved[i]: k for k, i in enumerate(indices_old)}
        delta = torch.empty((len(indices_now), old.shape[1]), dtype=old.dtype)
        for k, i in enumerate(indices_now):
            token = current[i]
            delta[k] = old[position_old[token]] if token in position_old else rows[i]
        return delta

    def _local(self, key: str) -> str:
        """A full key -> the key inside ``llm.model``."""
        marker = self.llm_prefix + 'model.'
        return key[key.index(marker) + len(marker):]
