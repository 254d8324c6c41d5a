"""mmdet Grounding DINO → link decoder: key mapping, and the same computation once the weights land.

mmdet's ``GroundingDINO`` builds BERT through its ``language_model`` config, which needs a hub name
(no network here) and mmdet's BERT wrapper does not run on transformers 5. The reference model is
therefore built with ``language_model`` replaced by a test-only stub that has the attribute the
detector reads (``language_backbone.body.language_dim``) and a few weights of its own, so the state
dict holds ``language_model.*`` and ``text_feat_map.*`` keys exactly like a real checkpoint's.
Everything else is a real mmdet ``GroundingDINO``.
"""
import copy
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from torch import nn

from mmvisionllm.models.decoders.detection import GDINO_TEXT_PREFIXES, convert_gdino_state_dict
from mmvisionllm.registry import MODELS

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))
DECODER_CONFIGS = osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'decoders')


@MMDET_MODELS.register_module(name='TestOnlyStubLanguageModel', force=True)
class StubLanguageModel(nn.Module):
    """Stands in for mmdet's BertModel: same attribute path to the width, some weights."""

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.language_backbone = nn.Module()
        self.language_backbone.body = nn.Module()
        self.language_backbone.body.language_dim = 768
        self.language_backbone.body.model = nn.Linear(8, 8)


def mmdet_gdino_cfg(config_file: str) -> dict:
    """mmdet GroundingDINO config with the same transformer/backbone as the decoder's detector."""
    # a ConfigDict: mmdet's GroundingDinoTransformerEncoder reads `self_attn_cfg.num_heads`
    cfg = copy.deepcopy(Config.fromfile(config_file).det_detector)
    cfg['type'] = 'mmdet.GroundingDINO'
    cfg['language_model'] = dict(type='mmdet.TestOnlyStubLanguageModel')
    cfg['backbone']['out_indices'] = tuple(cfg['backbone']['out_indices'][1:])  # no mask branch
    head = cfg['bbox_head']
    head['type'] = 'mmdet.GroundingDINOHead'
    head.pop('mask_head')
    assigner = cfg['train_cfg']['assigner']
    assigner['type'] = 'mmdet.HungarianAssigner'
    assigner.pop('mask_match_costs')
    return cfg


def build_pair(config_file: str, in_channels: int = 32):
    torch.manual_seed(0)
    gdino = MODELS.build(mmdet_gdino_cfg(config_file))
    gdino.init_weights()
    cfg = copy.deepcopy(Config.fromfile(config_file).det_decoder)
    cfg.in_channels = in_channels
    decoder = MODELS.build(cfg)
    return gdino, decoder


@pytest.fixture(scope='module')
def tiny_pair():
    return build_pair(osp.join(DECODER_CONFIGS, 'det_tiny.py'))


def check_conversion(gdino, decoder, expected_missing_prefixes):
    source = gdino.state_dict()
    target = decoder.state_dict()
    result = convert_gdino_state_dict(source, prefix='detector.', target=target)
    text_keys = [k for k in source if k.startswith(GDINO_TEXT_PREFIXES)]
    assert text_keys and sorted(result.dropped) == sorted(text_keys)
    assert any(k.startswith('language_model.') for k in text_keys)
    assert any(k.startswith('text_feat_map.') for k in text_keys)
    # every non-text key lands, with its shape
    assert result.unexpected == [] and result.mismatched == {}
    assert len(result.state_dict) == len(source) - len(text_keys)
    for key, value in result.state_dict.items():
        assert target[key].shape == value.shape
    # what is left is exactly what VisionLLM v2 adds
    for key in result.missing:
        assert key.startswith(tuple(expected_missing_prefixes)), key
    return result


def test_all_non_text_keys_land(tiny_pair):
    gdino, decoder = tiny_pair
    result = check_conversion(gdino, decoder, ['detector.bbox_head.mask_head.'])
    assert result.missing  # the mask branch is new
    load = decoder.load_state_dict(result.state_dict, strict=False)
    assert load.unexpected_keys == []
    assert sorted(load.missing_keys) == sorted(
        result.missing + [k for k in decoder.state_dict() if k.startswith('link_proj.')])
    for key, value in result.state_dict.items():
        assert torch.equal(decoder.state_dict()[key], value)


def _inputs(num_targets: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(1, 3, 64, 64, generator=gen)
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), batch_input_shape=(64, 64)))
    text = dict(
        embedded=torch.randn(1, num_targets, 256, generator=gen),
        text_token_mask=torch.ones(1, num_targets, dtype=torch.bool),
        position_ids=torch.zeros(1, num_targets, dtype=torch.long),
        masks=torch.eye(num_targets, dtype=torch.bool)[None])
    return images, [sample], text


def test_converted_decoder_computes_like_mmdet_grounding_dino(tiny_pair):
    """With the same weights and target features, the link detector reproduces mmdet's forward."""
    gdino, decoder = tiny_pair
    decoder.load_state_dict(convert_gdino_state_dict(gdino.state_dict()).state_dict, strict=False)
    gdino.eval()
    detector = decoder.detector.eval()
    images, samples, text = _inputs(3)
    with torch.no_grad():
        ref = gdino.forward_transformer(gdino.extract_feat(images), text, samples)
        feats, _ = detector.extract_feat_with_pixel(images)
        ours = detector.forward_transformer_with_masks(feats, samples, None, text_dict=text)
    assert torch.allclose(ref['hidden_states'], ours['hidden_states'], atol=1e-5)
    assert torch.allclose(ref['references'][-1], ours['references'][-1], atol=1e-5)
    assert torch.allclose(ref['memory_text'], ours['memory_text'], atol=1e-5)


def test_padded_targets_do_not_change_the_detector(tiny_pair):
    """Unlike mmdet's fusion call (bool mask → no masking), padding values have no influence."""
    _, decoder = tiny_pair
    detector = decoder.detector.eval()
    images, samples, text = _inputs(4)
    text['text_token_mask'][0, 3] = False
    other = copy.deepcopy(text)
    other['embedded'][0, 3] = 100.0
    with torch.no_grad():
        feats, _ = detector.extract_feat_with_pixel(images)
        a = detector.forward_transformer_with_masks(feats, samples, None, text_dict=text)
        b = detector.forward_transformer_with_masks(feats, samples, None, text_dict=other)
    assert torch.allclose(a['hidden_states'], b['hidden_states'], atol=1e-5)


def test_converter_tool(tiny_pair, tmp_path):
    gdino, _ = tiny_pair
    src = str(tmp_path / 'gdino.pth')
    dst = str(tmp_path / 'link.pth')
    torch.save(dict(state_dict=gdino.state_dict(), meta=dict()), src)
    tool = osp.join(REPO_ROOT, 'tools', 'model_converters', 'gdino_to_link_decoder.py')
    out = subprocess.run([
        sys.executable, tool, src, dst, '--config',
        osp.join(DECODER_CONFIGS, 'det_tiny.py'), '--in-channels', '32', '--model-prefix',
        'decoders.det.'
    ],
                         cwd=REPO_ROOT,
                         capture_output=True,
                         text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'shape mismatch' not in out.stdout and 'left out' not in out.stdout
    fresh = out.stdout.split('start from their initialisation: ')[1]
    assert 'decoders.det.link_proj.layers' in fresh and 'mask_head' in fresh
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert all(k.startswith('decoders.det.detector.') for k in converted)
    assert not any('language_model' in k or 'text_feat_map' in k for k in converted)
    assert len(converted) == len(
        [k for k in gdino.state_dict() if not k.startswith(GDINO_TEXT_PREFIXES)])


@pytest.mark.slow
def test_swin_t_real_scale_keys_land():
    """GDINO-T sizes: Swin-T, 6+6 layers, 900 queries, 4 levels (random init, no download)."""
    gdino, decoder = build_pair(osp.join(DECODER_CONFIGS, 'det_swin_t.py'), in_channels=4096)
    # new in the decoder: the mask branch and the norm of Swin's stride-4 output that feeds it
    result = check_conversion(gdino, decoder,
                              ['detector.bbox_head.mask_head.', 'detector.backbone.norm0.'])
    assert any(k.startswith('detector.backbone.norm0.') for k in result.missing)
    assert decoder.detector.num_queries == 900
    assert len(decoder.detector.encoder.layers) == 6 and decoder.detector.decoder.num_layers == 6


def test_converter_tool_checks_the_configured_decoder_and_refuses_left_out_tensors(
        tiny_pair, tmp_path, monkeypatch, capsys):
    """A model config whose ``model.decoders.det`` has other widths than the base variable it
    started from: the tool checks the model's decoder, fails and writes nothing, unless the keys
    it would leave out are named with --skip."""
    from tool_loader import load_tool
    tool = load_tool('model_converters/gdino_to_link_decoder.py')
    gdino, _ = tiny_pair
    src, dst = str(tmp_path / 'gdino.pth'), str(tmp_path / 'link.pth')
    torch.save(dict(state_dict=gdino.state_dict(), meta=dict()), src)
    base = Config.fromfile(osp.join(DECODER_CONFIGS, 'det_tiny.py')).det_decoder.to_dict()
    changed = copy.deepcopy(base)
    changed['detector']['encoder']['layer_cfg']['ffn_cfg']['feedforward_channels'] = 256
    config = str(tmp_path / 'model_config.py')
    Config(dict(det_decoder=base, model=dict(decoders=dict(det=changed)))).dump(config)
    argv = [
        'gdino_to_link_decoder.py', src, dst, '--config', config, '--in-channels', '32',
        '--model-prefix', 'decoders.det.'
    ]
    monkeypatch.setattr(sys, 'argv', argv)
    with pytest.raises(SystemExit) as exit_info:
        tool.main()
    out = capsys.readouterr()
    assert exit_info.value.code == 1
    assert 'would be left out' in out.err and not osp.exists(dst)
    assert 'encoder.layers.0.ffn.layers.0.0.weight' in out.out
    monkeypatch.setattr(sys, 'argv', argv + ['--skip', '*encoder.layers.*.ffn.*'])
    tool.main()
    assert 'skipped as asked' in capsys.readouterr().out and osp.exists(dst)
