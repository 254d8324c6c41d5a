"""The official checkpoint converter on synthetic official-layout checkpoints (reduced widths)."""
import json
import os.path as osp

import pytest
import torch
from mmengine.runner import load_checkpoint
from safetensors.torch import save_file
from tool_loader import load_tool

from mmvisionllm.models.mllm.official_conversion import (OfficialConversionError,
                                                         convert_official_state_dict,
                                                         merge_official_lora)
from mmvisionllm.testing.official_parity import build_reference_small_model
from .official_layout import small_official_state

_converter = load_tool('model_converters/visionllmv2_to_mmvisionllm.py')
CHECKPOINT_NAME, convert = _converter.CHECKPOINT_NAME, _converter.convert

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
SMALL = osp.join(ROOT, 'configs/visionllmv2/visionllmv2_official_reference_small.py')
CORE_ONLY = {'model.region_encoder': None, 'model.decoders': None}


@pytest.fixture(scope='module')
def official_state():
    return small_official_state(seed=1)


@pytest.fixture(scope='module')
def small_model(vicuna_tokenizer_dir):
    return build_reference_small_model(vicuna_tokenizer_dir)


def _write(folder, state, layout, config=None):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / 'config.json', 'w') as f:
        json.dump(config or dict(model_type='visionllmv2', use_llm_lora=False), f)
    if layout == 'safetensors':
        save_file(state, str(folder / 'model.safetensors'))
    elif layout == 'sharded':
        keys = sorted(state)
        shards = {
            'model-00001-of-00002.safetensors': keys[::2],
            'model-00002-of-00002.safetensors': keys[1::2]
        }
        for name, shard_keys in shards.items():
            save_file({k: state[k] for k in shard_keys}, str(folder / name))
        weight_map = {k: n for n, ks in shards.items() for k in ks}
        with open(folder / 'model.safetensors.index.json', 'w') as f:
            json.dump(dict(metadata={}, weight_map=weight_map), f)
    else:
        torch.save(state, str(folder / 'pytorch_model.bin'))
    return str(folder)


def _expected(name, official):
    """Our name -> the official tensor it must hold (the core mapping written out)."""
    mapping = {}
    for key, value in official.items():
        if key.startswith('vis_encoder.vision_model.'):
            mapping['vision_encoder.clip.' + key[len('vis_encoder.vision_model.'):]] = value
        elif key.startswith('vl_bridge.'):
            mapping['projector.layers.' + key[len('vl_bridge.'):]] = value
        elif key.startswith('llm.'):
            mapping['llm.model.' + key[len('llm.'):]] = value
        else:
            group = key[len('emb_embeddings_'):-len('.weight')]
            mapping[f'super_link.query_tables.{group}.weight'] = value
    return mapping[name]


@pytest.mark.parametrize('layout', ['safetensors', 'sharded', 'bin'])
def test_convert_and_load_strict(tmp_path, official_state, vicuna_tokenizer_dir, small_model,
                                 layout):
    src = _write(tmp_path / 'official', official_state, layout)
    path = convert(
        src,
        str(tmp_path / 'out'),
        config=SMALL,
        cfg_options=CORE_ONLY,
        tokenizer=vicuna_tokenizer_dir)
    assert osp.basename(path) == CHECKPOINT_NAME
    # our tools load it strictly into the config's model, with the written tokenizer
    model = build_reference_small_model(str(tmp_path / 'out' / 'tokenizer'))
    load_checkpoint(model, path, map_location='cpu', strict=True)
    state = model.state_dict()
    assert len(state) - 1 == len(official_state)  # every tensor but token_vocabulary placed
    for name, value in state.items():
        if name != 'token_vocabulary':
            torch.testing.assert_close(value, _expected(name, official_state), rtol=0, atol=0)
    tokenizer = model.llm.tokenizer
    assert tokenizer.convert_tokens_to_ids(['[PAD]', '<im_patch>', '[DET]', '[EMB]', '[EMB8]']) \
        == [32000, 32002, 32012, 32018, 32025]
    assert tokenizer.pad_token_id == 0


def test_lora_checkpoint_is_merged(tmp_path, official_state, vicuna_tokenizer_dir):
    """peft 0.6 names (the official pin): base weight kept, lora_A/B of the adapter 'default'."""
    generator = torch.Generator().manual_seed(3)
    state = {}
    lora = {}
    for key, value in official_state.items():
        if key.startswith('llm.'):
            name = 'llm.base_model.model.' + key[len('llm.'):]
            state[name] = value
            if key.endswith(('q_proj.weight', 'down_proj.weight')):
                module = name[:-len('.weight')]
                a = torch.randn(8, value.shape[1], generator=generator)
                b = torch.randn(value.shape[0], 8, generator=generator)
                state[module + '.lora_A.default.weight'] = a
                state[module + '.lora_B.default.weight'] = b
                lora[key] = value + (b @ a) * (64 / 8)
        else:
            state[key] = value
    src = _write(tmp_path / 'official', state, 'safetensors', dict(use_llm_lora=True))
    path = convert(
        src,
        str(tmp_path / 'out'),
        config=SMALL,
        cfg_options=CORE_ONLY,
        tokenizer=vicuna_tokenizer_dir)
    converted = torch.load(path, map_location='cpu', weights_only=False)['state_dict']
    assert len(lora) == 4  # q_proj and down_proj of both layers
    for key, value in lora.items():
        torch.testing.assert_close(converted['llm.model.' + key[len('llm.'):]], value)
    assert not any('lora' in k or 'base_model' in k for k in converted)


def test_merge_matches_peft():
    """The fold equals peft's merge_and_unload (current peft names: base_layer)."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    base = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=50,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2))
    peft_model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=12, target_modules=['q_proj', 'v_proj', 'down_proj']))
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if 'lora_B' in name:
                parameter.normal_()
    wrapped = {'llm.' + k: v.clone() for k, v in peft_model.state_dict().items()}
    merged = merge_official_lora(wrapped, lora_alpha=12)
    reference = peft_model.merge_and_unload().state_dict()
    assert set(merged) == {'llm.' + k for k in reference}
    for key, value in reference.items():
        torch.testing.assert_close(merged['llm.' + key], value)


def test_unplaced_and_missing_tensors_are_named(official_state, small_model):
    state = dict(official_state)
    state['extra_head.weight'] = torch.zeros(2)
    state['llm.model.layers.0.self_attn.rotary_emb.inv_freq'] = torch.zeros(16)  # dropped
    state['gdino.model.level_embed'] = torch.zeros(4, 256)
    del state['emb_embeddings_pose.weight']
    with pytest.raises(OfficialConversionError) as error:
        convert_official_state_dict(small_model, state)
    message = str(error.value)
    assert 'extra_head.weight' in message and 'inv_freq' not in message
    assert 'no decoders.det' in message and 'gdino.*' in message
    assert 'super_link.query_tables.pose.weight' in message
    # each problem may be skipped explicitly
    converted = convert_official_state_dict(
        small_model, state, skip=['extra_head.*', 'gdino.*', 'super_link.query_tables.pose.*'])
    assert 'super_link.query_tables.pose.weight' not in converted


def test_shape_mismatch_is_named(official_state, small_model):
    state = dict(official_state)
    state['vl_bridge.0.weight'] = torch.zeros(128, 32)
    with pytest.raises(
            OfficialConversionError,
            match=r'vl_bridge.0.weight -> projector.layers.0'
            r'.weight: shape \(128, 32\)'):
        convert_official_state_dict(small_model, state)


class _PartWithoutConverter(torch.nn.Module):
    pass


def test_part_without_converter_is_named(official_state, small_model):
    state = dict(official_state)
    state['region_encoder.up_dim.weight'] = torch.zeros(128, 64)
    small_model.region_encoder = _PartWithoutConverter()
    try:
        with pytest.raises(
                OfficialConversionError,
                match='no convert_official_state_dict; the '
                r'official region encoder \(OfficialRegionEncoder\) is not available'):
            convert_official_state_dict(small_model, state)
    finally:
        small_model.region_encoder = None


def test_part_converter_is_called_with_stripped_names(official_state, small_model):
    state = dict(official_state)
    state['region_encoder.up_dim.weight'] = torch.ones(3, 2)
    seen = {}

    class Part(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(2, 3, bias=False)

        def convert_official_state_dict(self, official):
            seen.update(official)
            return {'proj.weight': official['up_dim.weight']}

    small_model.region_encoder = Part()
    try:
        converted = convert_official_state_dict(small_model, state)
    finally:
        small_model.region_encoder = None
    assert list(seen) == ['up_dim.weight']
    torch.testing.assert_close(converted['region_encoder.proj.weight'], torch.ones(3, 2))


def test_numeric_settings_of_config_json_are_checked(tmp_path, official_state,
                                                     vicuna_tokenizer_dir):
    """Settings that change the numbers but no shape (the CLIP layer, the bridge) must agree."""
    config = dict(vl_bridge_type='mlp2x_gelu', vis_output_layer=-1, num_embs=4, num_embs_gen=64)
    src = _write(tmp_path / 'official', official_state, 'safetensors', config)
    with pytest.raises(
            SystemExit,
            match=r'vis_output_layer \(our vision_encoder.select_layer\): '
            'official -1, ours -2'):
        convert(
            src,
            str(tmp_path / 'out'),
            config=SMALL,
            cfg_options=CORE_ONLY,
            tokenizer=vicuna_tokenizer_dir)
