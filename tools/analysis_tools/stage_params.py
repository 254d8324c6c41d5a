"""Each stage config's trainable parameters and checkpoint size, from a build without weights.

Usage::

    python tools/analysis_tools/stage_params.py CONFIG [CONFIG ...] [--out stage_params.json]

For every config the model is built under accelerate's ``init_empty_weights`` (parameters on the
meta device: a 7B build takes seconds and no memory), with the real sizes: a ``pretrained_path``
folder that exists is read for its ``config.json`` and tokenizer; one that does not exist is
replaced by the published configuration of the checkpoint the shipped configs name (CLIP
ViT-L/14-336, Vicuna-7B v1.5, Qwen2-7B-Instruct, below), with a stand-in tokenizer of the same
size. The tool prints, per component (``vision_encoder``, ``projector``, ``llm`` split into its
base weights, LoRA matrices and trainable token rows, ``region_encoder``, ``super_link``,
``decoders.<group>``), the trainable and total parameter counts, and the size of the checkpoint
:class:`~mmvisionllm.engine.hooks.AdapterCheckpointHook` writes: the tensors it keeps (everything
but the frozen base weights, at their dtype) plus AdamW's two moments per trainable parameter (at
the parameter's dtype, as torch keeps them), against a full checkpoint.

Reused: the config's own model build (``MODELS.build``), accelerate's ``init_empty_weights``, HF
``AutoConfig``/``AutoTokenizer`` and :func:`mmvisionllm.models.mllm.base_weights.base_weight_names`
(the hook's rule for what is left out).
"""
import argparse
import copy
import json
import os
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Dict, Tuple

from accelerate import init_empty_weights
from mmengine.config import Config, DictAction
from tokenizers import Tokenizer, models
from transformers import AutoConfig, CLIPVisionConfig, PreTrainedTokenizerFast

from mmvisionllm.models.mllm.base_weights import base_weight_names
from mmvisionllm.registry import MODELS
from mmvisionllm.utils import register_all_modules

# Published configurations of the checkpoints the shipped configs name (folder basename -> sizes).
KNOWN_CHECKPOINTS = {
    'clip-vit-large-patch14-336':
    dict(
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        image_size=336,
        patch_size=14,
        projection_dim=768),
    'vicuna-7b-v1.5':
    dict(
        model_type='llama',
        num_tokens=32000,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=32000,
        max_position_embeddings=4096,
        tie_word_embeddings=False),
    'qwen2-7b-instruct':
    dict(
        model_type='qwen2',
        num_tokens=151646,
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152064,
        max_position_embeddings=32768,
        tie_word_embeddings=False),
}


def _known(path: str, key: str) -> dict:
    name = osp.basename(osp.normpath(path))
    if name not in KNOWN_CHECKPOINTS:
        raise FileNotFoundError(
            f'{key}={path!r}: no such folder, and {name!r} is not one of the checkpoints whose '
            f'sizes this tool knows ({sorted(KNOWN_CHECKPOINTS)}); save the folder (its '
            'config.json and tokenizer suffice) or add its sizes to KNOWN_CHECKPOINTS')
    return dict(KNOWN_CHECKPOINTS[name])


def _stand_in_tokenizer(directory: str, num_tokens: int) -> str:
    """A word-level tokenizer with ``num_tokens`` entries (the size of the real one)."""
    vocab = {tok: i for i, tok in enumerate(['<unk>', '<s>', '</s>'])}
    for i in range(len(vocab), num_tokens):
        vocab[f'w{i}'] = i
    PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token='<unk>')),
        unk_token='<unk>',
        bos_token='<s>',
        eos_token='</s>').save_pretrained(directory)
    return directory


def empty_model_cfg(model_cfg: dict, work_dir: str) -> Tuple[dict, Dict[str, str]]:
    """``model_cfg`` with every ``pretrained_path`` of the CLIP tower and the LLM turned into a
    random-init ``config`` of the same sizes.

    Returns:
        tuple[dict, dict]: The config and, per component (``vision_encoder``, ``llm``), the stand-in
        folder recorded as the component's source (what ``from_pretrained`` would have recorded).
    """
    cfg = copy.deepcopy(model_cfg)
    sources = {}
    vision = cfg['vision_encoder']
    path = vision.pop('pretrained_path', None)
    if path is not None:
        if osp.isdir(path):
            clip_cfg = CLIPVisionConfig.from_pretrained(path).to_dict()
            clip_cfg = {k: v for k, v in clip_cfg.items() if not k.startswith('_')}
            for key in ('architectures', 'transformers_version', 'model_type', 'dtype'):
                clip_cfg.pop(key, None)
        else:
            clip_cfg = _known(path, 'vision_encoder.pretrained_path')
        vision['config'] = clip_cfg
        sources['vision_encoder'] = path
    llm = cfg['llm']
    path = llm.pop('pretrained_path', None)
    if path is not None:
        if osp.isdir(path):
            llm_cfg = AutoConfig.from_pretrained(path).to_dict()
            keep = ('model_type', 'hidden_size', 'intermediate_size', 'num_hidden_layers',
                    'num_attention_heads', 'num_key_value_heads', 'vocab_size',
                    'max_position_embeddings', 'tie_word_embeddings', 'head_dim')
            llm_cfg = {k: llm_cfg[k] for k in keep if k in llm_cfg}
            llm.setdefault('tokenizer_path', path)
        else:
            llm_cfg = _known(path, 'llm.pretrained_path')
            tokenizer_dir = osp.join(work_dir, osp.basename(osp.normpath(path)))
            if llm.get('tokenizer_path') is None or not osp.isdir(llm['tokenizer_path']):
                llm['tokenizer_path'] = _stand_in_tokenizer(tokenizer_dir,
                                                            llm_cfg.pop('num_tokens'))
        llm_cfg.pop('num_tokens', None)
        llm['config'] = llm_cfg
        sources['llm'] = path
    return cfg, sources


def build_empty(model_cfg: dict, work_dir: str):
    """Build ``model_cfg`` with meta-device parameters; its tower and LLM look loaded from folders
    (their ``config._name_or_path``), so the hook's rule applies as in the real build."""
    cfg, sources = empty_model_cfg(model_cfg, work_dir)
    with init_empty_weights():
        model = MODELS.build(cfg)
    for component, path in sources.items():
        folder = osp.join(work_dir, 'source_' + component)
        os.makedirs(folder, exist_ok=True)
        hf_model = model.vision_encoder.clip if component == 'vision_encoder' else model.llm.model
        hf_model.config._name_or_path = folder
    return model


def component_of(name: str) -> str:
    """The table row of a parameter name."""
    parts = name.split('.')
    if parts[0] == 'decoders':
        return '.'.join(parts[:2])
    if parts[0] == 'llm':
        if 'lora_' in name:
            return 'llm (LoRA)'
        if 'trainable_tokens_' in name:
            return 'llm (token rows)'
        return 'llm (base)'
    return parts[0]


def stage_table(model) -> dict:
    """Per component trainable/total counts and the checkpoint sizes (bytes) of ``model``."""
    rows: Dict[str, list] = OrderedDict()
    optimizer_bytes = 0
    for name, param in model.named_parameters():
        row = rows.setdefault(component_of(name), [0, 0])
        row[1] += param.numel()
        if param.requires_grad:
            row[0] += param.numel()
            optimizer_bytes += 2 * param.numel() * param.element_size()  # AdamW exp_avg(_sq)
    state = model.state_dict()
    stripped = base_weight_names(model)
    full_bytes = sum(t.numel() * t.element_size() for t in state.values())
    kept_bytes = sum(t.numel() * t.element_size() for k, t in state.items() if k not in stripped)
    return dict(
        components={
            k: dict(trainable=v[0], total=v[1])
            for k, v in rows.items()
        },
        adapter_checkpoint_bytes=kept_bytes + optimizer_bytes,
        full_checkpoint_bytes=full_bytes + optimizer_bytes,
        weights_kept_bytes=kept_bytes,
        optimizer_bytes=optimizer_bytes)


def format_table(config: str, table: dict) -> str:
    """The table as text."""
    gib = 1024**3
    lines = [config, f'  {"component":<22}{"trainable":>16}{"total":>16}']
    for name, row in table['components'].items():
        lines.append(f'  {name:<22}{row["trainable"]:>16,}{row["total"]:>16,}')
    lines.append(f'  checkpoint: {table["adapter_checkpoint_bytes"] / gib:.2f} GiB '
                 f'(weights {table["weights_kept_bytes"] / gib:.2f} + AdamW state '
                 f'{table["optimizer_bytes"] / gib:.2f}); a full one: '
                 f'{table["full_checkpoint_bytes"] / gib:.2f} GiB')
    return '\n'.join(lines)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', help='stage configs')
    parser.add_argument('--out', help='write the tables to this json file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args()


def main():
    args = parse_args()
    register_all_modules()
    tables = {}
    with tempfile.TemporaryDirectory() as work_dir:
        for path in args.configs:
            cfg = Config.fromfile(path)
            if args.cfg_options:
                cfg.merge_from_dict(args.cfg_options)
            tables[path] = stage_table(build_empty(cfg.model.to_dict(), work_dir))
            print(format_table(path, tables[path]))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(tables, f, indent=2)


if __name__ == '__main__':
    main()
