"""Must-show 1 for the whole official model (every part of the release): the real-size name/shape
list maps 100 % on the meta device, and a synthetic reduced-width official-layout checkpoint goes
through the converter tool and loads strictly.

The official names and shapes come from the facts file (``official_layout``); the reduced widths
are :data:`official_layout.PART_WIDTHS` (GDINO and UniPose stay at real size, as in the parity
reference).
"""
import copy
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from safetensors.torch import save_file
from tool_loader import load_tool

from mmvisionllm.datasets.shapesworld.vocabulary import build_word_level_tokenizer
from mmvisionllm.models.mllm.official_conversion import (OfficialConversionError,
                                                         convert_official_state_dict)
from mmvisionllm.registry import MODELS
from mmvisionllm.testing.official_parity import build_reference_small_model
from .official_layout import (CORE_PREFIXES, load_facts, official_shapes, prefix_aliases,
                              small_official_state, swin_relative_position_index)

_converter = load_tool('model_converters/visionllmv2_to_mmvisionllm.py')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
CONFIG = osp.join(ROOT, 'configs/visionllmv2/visionllmv2_7b_official.py')
SMALL = osp.join(ROOT, 'configs/visionllmv2/visionllmv2_official_reference_small.py')
#: every official prefix of the release's tools
PARTS = ('region_encoder.', 'gdino.', 'unipose.', 'sd.', 'ip2p.')
SKIP = []
#: official prefix -> ours
OURS = {
    'vis_encoder.': 'vision_encoder.',
    'vl_bridge.': 'projector.',
    'llm.': 'llm.',
    'emb_embeddings_': 'super_link.',
    'region_encoder.': 'region_encoder.',
    'gdino.': 'decoders.det.',
    'unipose.': 'decoders.pose.',
    'sd.': 'decoders.gen.',
    'ip2p.': 'decoders.edit.'
}


@pytest.fixture(scope='module')
def clip_word_tokenizer(tmp_path_factory):
    """A word-level stand-in of the SD CLIP tokenizer (the real one is a local download)."""
    folder = str(tmp_path_factory.mktemp('sd_tokenizer'))
    build_word_level_tokenizer(['a', 'photo']).save_pretrained(folder)
    return folder


def _prefix_of(name: str, table) -> str:
    return next(p for p in table if name.startswith(p))


def test_real_size_names_map_completely_on_meta(vicuna_tokenizer_dir, clip_word_tokenizer):
    cfg = Config.fromfile(CONFIG)
    cfg.model.llm.tokenizer_path = vicuna_tokenizer_dir
    for group in ('gen', 'edit'):
        cfg.model.decoders[group].tokenizer = dict(
            type='AutoTokenizer', pretrained=clip_word_tokenizer)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    shapes = official_shapes(CORE_PREFIXES + PARTS)
    official = {
        k: torch.empty(s, device='meta', dtype=torch.int64 if 'position_index' in k else None)
        for k, s in shapes.items()
    }
    target = model.state_dict()
    converted = convert_official_state_dict(model, official, skip=SKIP, target=target)
    # 100 %: every tensor of ours filled with the right shape, every official name placed (the
    # alias names of a group fill one tensor of ours), for every prefix
    assert set(converted) == set(target) - {'token_vocabulary'}
    for name, value in converted.items():
        assert tuple(value.shape) == tuple(target[name].shape), name
    # every official name was placed: one more of any prefix is named in the error
    for prefix in CORE_PREFIXES[:1] + PARTS:
        extra = dict(official, **{f'{prefix}not_in_the_release': torch.empty(1, device='meta')})
        with pytest.raises(OfficialConversionError, match='not_in_the_release') as error:
            convert_official_state_dict(model, extra, skip=SKIP, target=target)
        assert prefix in str(error.value)
    ours = {_prefix_of(k, OURS.values()) for k in converted}
    assert ours == set(OURS.values())
    # nothing of the release is left
    left = {k.split('.', 1)[0] for k in load_facts()['params'] if not k.startswith(tuple(OURS))}
    assert left == set()


def small_whole_cfg_options(clip_tokenizer: str) -> dict:
    """``--cfg-options`` of the reduced reference config for the synthetic whole model: the
    SD-1.5 / IP2P decoders with their real structure at :data:`PART_WIDTHS` widths."""
    real = Config.fromfile(CONFIG).model.decoders
    options = {}
    for group in ('gen', 'edit'):
        decoder = copy.deepcopy(real[group].to_dict())
        decoder['unet'].update(block_out_channels=(32, 64, 128, 128), cross_attention_dim=48)
        decoder['vae'].update(block_out_channels=(32, 64, 128, 128), sample_size=64)
        decoder['text_encoder'].update(hidden_size=48, intermediate_size=192)
        decoder['tokenizer'] = dict(type='AutoTokenizer', pretrained=clip_tokenizer)
        decoder['image_size'] = 64
        options[f'model.decoders.{group}'] = dict(_delete_=True, **decoder)
    return options


@pytest.mark.slow  # ~20 s on one thread (65 M GDINO parameters written, converted, loaded)
def test_synthetic_whole_model_converts_and_loads_strictly(tmp_path, vicuna_tokenizer_dir,
                                                           clip_word_tokenizer):
    official = small_official_state(seed=2, prefixes=CORE_PREFIXES + PARTS)
    for group in (g for p in PARTS for g in prefix_aliases(p)):
        for name in group[1:]:  # safetensors keeps one name per shared tensor
            del official[name]
    src = tmp_path / 'official'
    src.mkdir()
    save_file(official, str(src / 'model.safetensors'))
    with open(src / 'config.json', 'w') as f:
        json.dump(dict(model_type='visionllmv2', use_llm_lora=False), f)
    options = small_whole_cfg_options(clip_word_tokenizer)
    path = _converter.convert(
        str(src),
        str(tmp_path / 'out'),
        config=SMALL,
        cfg_options=options,
        tokenizer=vicuna_tokenizer_dir,
        skip=SKIP)
    model = build_reference_small_model(
        str(tmp_path / 'out' / 'tokenizer'),
        cfg_options=options,
        parts=('region_encoder', 'det', 'pose', 'gen', 'edit'))
    load_checkpoint(model, path, map_location='cpu', strict=True)  # no missing, no unexpected
    # Swin's relative_position_index is a constant: our GDINO recomputes it (not in its state
    # dict); our UniPose (mmdet's Swin) keeps it, its converter checks it equal to the release's
    index = {k for k in official if k.endswith('relative_position_index')}
    assert len(index) == 24 and len({k for k in index if k.startswith('gdino.')}) == 12
    state = model.state_dict()
    kept = {k: v for k, v in state.items() if k.endswith('relative_position_index')}
    assert len(kept) == 12 and all(k.startswith('decoders.pose.') for k in kept)
    assert all(torch.equal(v, swin_relative_position_index(7)) for v in kept.values())
    # every other tensor of ours holds one official tensor's values, up to their order (all are
    # distinct random draws), and every other official tensor went somewhere
    by_values = {_fingerprint(v): k for k, v in official.items() if k not in index}
    assert len(by_values) == len(official) - len(index)
    sources = {
        k: by_values.get(_fingerprint(v))
        for k, v in state.items() if k != 'token_vocabulary' and k not in kept
    }
    assert not [k for k, source in sources.items() if source is None]
    assert set(sources.values()) == set(official) - index
    assert all(OURS[_prefix_of(source, OURS)] == _prefix_of(k, OURS.values())
               for k, source in sources.items())


def _fingerprint(value: torch.Tensor) -> tuple:
    """Shape and the multiset of values (order-free, the sums rounded: the UniPose converter
    reorders the channels of Swin's patch merging, as mmdet's ``swin_converter``)."""
    value = value.double()
    sums = (round(float(value.sum()), 6), round(float(value.square().sum()), 6))
    return (tuple(value.shape), ) + sums + (float(value.max()), )
