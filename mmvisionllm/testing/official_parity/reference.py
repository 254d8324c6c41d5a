"""Reading the official VisionLLM v2 parity reference and building the matching model.

The reference folder (``VLV2_REFERENCE_DIR``, written by the lead's official-code tool) holds a
reduced-width official model with random weights (``model.safetensors``, ``config.json``) and
fixed inputs/outputs of its forward passes (``inputs.npz``, ``outputs.npz``, ``arrays.json``).
Reused: ``numpy.load``, safetensors' ``load_file``, mmengine's ``Config`` and the registry build;
the tokenizer stand-in is a ``tokenizers`` WordLevel model wrapped in HF's
``PreTrainedTokenizerFast`` (the reference's token ids are synthetic, so no text is needed, only a
32000-piece vocabulary with Vicuna's ``<unk>``/``<s>``/``</s>`` ids).
"""
import json
import os
import os.path as osp
from functools import lru_cache
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    'REFERENCE_ENV', 'reference_dir', 'load_reference_arrays', 'load_reference_config',
    'load_official_prefix', 'reference_array', 'max_abs_diff', 'write_vicuna_shaped_tokenizer',
    'build_reference_small_model', 'SMALL_CONFIG'
]

#: Environment variable naming the reference folder.
REFERENCE_ENV = 'VLV2_REFERENCE_DIR'
#: Our config of the reduced-width official model.
SMALL_CONFIG = 'configs/visionllmv2/visionllmv2_official_reference_small.py'
_FILES = ('model.safetensors', 'config.json', 'inputs.npz', 'outputs.npz')


def reference_dir(path: Optional[str] = None) -> Optional[str]:
    """The reference folder (``path`` or ``$VLV2_REFERENCE_DIR``) when it holds every file, else
    None."""
    path = path or os.environ.get(REFERENCE_ENV)
    if not path or not all(osp.isfile(osp.join(path, f)) for f in _FILES):
        return None
    return path


def load_reference_arrays(path: str) -> tuple:
    """(inputs, outputs, arrays.json) of a reference folder; the npz files as dicts of arrays."""
    inputs = dict(np.load(osp.join(path, 'inputs.npz')))
    outputs = dict(np.load(osp.join(path, 'outputs.npz')))
    with open(osp.join(path, 'arrays.json')) as f:
        info = json.load(f)
    return inputs, outputs, info


def load_reference_config(path: str) -> dict:
    """The reduced official model's ``config.json``."""
    with open(osp.join(path, 'config.json')) as f:
        return json.load(f)


def load_official_prefix(path: str, prefix: str) -> Dict[str, Tensor]:
    """The reference checkpoint's tensors whose names start with ``prefix``, the prefix stripped
    (what a part's ``convert_official_state_dict`` takes)."""
    from safetensors import safe_open
    out = {}
    with safe_open(osp.join(path, 'model.safetensors'), framework='pt') as f:
        for key in f.keys():
            if key.startswith(prefix):
                out[key[len(prefix):]] = f.get_tensor(key)
    if not out:
        raise KeyError(f'{path}/model.safetensors has no tensor named {prefix}*')
    return out


@lru_cache(maxsize=4)
def _npz(path: str):
    return np.load(path)


def reference_array(path: str, name: str) -> Tensor:
    """The array ``name`` of ``inputs.npz`` or ``outputs.npz``, read alone (not the whole file)."""
    for file in ('inputs.npz', 'outputs.npz'):
        data = _npz(osp.join(path, file))
        if name in data.files:
            return torch.from_numpy(np.array(data[name]))
    raise KeyError(f'no array {name!r} in {path}/{{inputs,outputs}}.npz')


def max_abs_diff(ours, reference) -> float:
    """Largest |ours - reference| in float64 over the finite reference entries.

    Both may be tensors or arrays of the same shape. Non-finite entries (masked class slots,
    invalidated proposals) must be the same in both, else the result is ``inf``.
    """
    ours = torch.as_tensor(ours.detach().cpu() if torch.is_tensor(ours) else np.asarray(ours))
    ref = torch.as_tensor(
        reference.detach().cpu() if torch.is_tensor(reference) else np.asarray(reference))
    ours, ref = ours.double(), ref.double()
    if ours.shape != ref.shape:
        raise ValueError(f'shape {tuple(ours.shape)} != reference {tuple(ref.shape)}')
    finite = torch.isfinite(ref)
    if not torch.equal(finite, torch.isfinite(ours)) or not torch.equal(
            ours[~finite], ref[~finite]):
        return float('inf')
    if not finite.any():
        return 0.0
    return float((ours[finite] - ref[finite]).abs().max())


def write_vicuna_shaped_tokenizer(out_dir: str,
                                  vocab_size: int = 32000,
                                  characters: bool = False) -> str:
    """Write a word-level tokenizer of ``vocab_size`` pieces with Vicuna's ids for ``<unk>`` (0),
    ``<s>`` (1) and ``</s>`` (2); the official special tokens then take 32000 onwards.

    The pieces are ``piece<i>`` words split at white space. With ``characters=True`` the printable
    ASCII characters (and white space) come first instead and the text is split into single
    characters, so that any English text (a dataset's prompts) encodes without ``<unk>``; the
    ``piece<i>`` words fill the rest of the ids (they are still single tokens for
    ``convert_tokens_to_ids``).
    """
    import string

    from tokenizers import Regex, Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Split, WhitespaceSplit
    from transformers import PreTrainedTokenizerFast
    vocab = {'<unk>': 0, '<s>': 1, '</s>': 2}
    first = len(vocab)
    if characters:
        vocab.update({c: first + i for i, c in enumerate(dict.fromkeys(string.printable))})
    first = len(vocab)
    vocab.update({f'piece{i}': i for i in range(first, vocab_size)})
    model = Tokenizer(WordLevel(vocab=vocab, unk_token='<unk>'))
    model.pre_tokenizer = Split(Regex(r'[\s\S]'), 'isolated') if characters else WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=model, unk_token='<unk>', bos_token='<s>', eos_token='</s>')
    os.makedirs(out_dir, exist_ok=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_reference_small_model(tokenizer_dir: str,
                                cfg_options: Optional[Dict] = None,
                                parts: Sequence[str] = ()):
    """Our model of the reduced official config, fp32 eval.

    Args:
        tokenizer_dir (str): A Vicuna-shaped tokenizer folder.
        cfg_options (dict, optional): Extra config overrides.
        parts (Sequence[str]): The official-compatible parts to keep (``'region_encoder'``,
            ``'det'``, ``'pose'``, ``'gen'``, ``'edit'``); the others are left out, so the LLM side
            builds without them.
    """
    from mmengine.config import Config

    from mmvisionllm.registry import MODELS
    from mmvisionllm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    cfg = Config.fromfile(osp.join(root, SMALL_CONFIG))
    cfg.model.llm.tokenizer_path = tokenizer_dir
    if 'region_encoder' not in parts:
        cfg.model.region_encoder = None
    cfg.model.decoders = {g: d for g, d in (cfg.model.decoders or {}).items() if g in parts}
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return MODELS.build(cfg.model).eval()
