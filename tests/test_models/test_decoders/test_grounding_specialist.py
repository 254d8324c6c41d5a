"""The grounding specialist (configs/baselines/grounding_dino_tiny_shapesworld*.py): mmdet's own
GroundingDINO at det_tiny's structure with a tiny BERT (``GroundingBertModel``) trained with it.

A small ShapesWorld is generated into a temporary folder with the ODVG files and the text encoder
made by the project's own functions (what the config's header tells to run); the config then
trains for two iterations through mmengine's Runner, tests with both configs, and its checkpoint
converts into the tiny generalist's det decoder with every non-text tensor landing.
"""
import copy
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint
from transformers import AutoTokenizer
from transformers import BertModel as HFBertModel

from mmvisionllm.datasets.odvg_export import export_coco_odvg, export_refexp_odvg
from mmvisionllm.datasets.shapesworld import generate_shapesworld
from mmvisionllm.models.decoders.detection import GDINO_TEXT_PREFIXES, convert_gdino_state_dict
from mmvisionllm.models.language_models import (BatchEncodePlusTokenizer, GroundingBertModel,
                                                build_tiny_text_encoder, text_encoder_vocabulary)
from mmvisionllm.registry import MODELS

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))
CONFIG = osp.join(REPO_ROOT, 'configs', 'baselines', 'grounding_dino_tiny_shapesworld.py')
REC_CONFIG = CONFIG.replace('.py', '_rec.py')
GENERALIST = osp.join(REPO_ROOT, 'configs', 'visionllmv2', 'visionllmv2_tiny_shapesworld.py')


@pytest.fixture(scope='module')
def shapesworld(tmp_path_factory) -> str:
    """8 train / 3 val scenes, their ODVG files and the tiny text encoder (the config's layout)."""
    root = str(tmp_path_factory.mktemp('shapesworld_grounding'))
    generate_shapesworld(root, seed=0, num_train=8, num_val=3, show_progress=False)
    export_coco_odvg(
        osp.join(root, 'annotations', 'instances_train.json'),
        osp.join(root, 'odvg', 'instances_train_od.jsonl'),
        osp.join(root, 'odvg', 'instances_label_map.json'))
    export_refexp_odvg(
        osp.join(root, 'annotations', 'refexp_train.json'),
        osp.join(root, 'odvg', 'refexp_train_vg.jsonl'))
    build_tiny_text_encoder(osp.join(root, 'text_encoder'), osp.join(root, 'tokenizer'))
    return root


def config(path: str, root: str, monkeypatch, work_dir: str) -> Config:
    """The config with every ShapesWorld path under ``root`` (its SHAPESWORLD_ROOT variable)."""
    monkeypatch.setenv('SHAPESWORLD_ROOT', root + '/')
    cfg = Config.fromfile(path)
    cfg.work_dir = work_dir
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
    cfg.default_hooks.logger.interval = 1
    return cfg


def language_model(root: str, **overrides) -> GroundingBertModel:
    cfg = copy.deepcopy(Config.fromfile(CONFIG).model.language_model)
    cfg.update(name=osp.join(root, 'text_encoder'), **overrides)
    return MODELS.build(cfg)


def test_tiny_text_encoder_loads_offline_and_knows_every_word(shapesworld, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    encoder_dir = osp.join(shapesworld, 'text_encoder')
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    vocab = open(osp.join(encoder_dir, 'vocab.txt')).read().split('\n')[:-1]
    assert vocab[:8] == ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', '?', ',']
    assert tokenizer.convert_ids_to_tokens(list(range(len(vocab)))) == vocab
    words = AutoTokenizer.from_pretrained(osp.join(shapesworld, 'tokenizer')).get_vocab()
    assert {'circle', 'left', 'yellow', 'person'} <= set(vocab)
    assert not {'<unk>', '<pad>', '<image>', '[DET]', '[GRD]'} & set(vocab)
    assert len(vocab) == 8 + len([w for w in words if w not in '.?,' and w[0] not in '<['])
    # saved without the pooler, as the config builds it (add_pooling_layer=False): nothing missing
    model, loading = HFBertModel.from_pretrained(
        encoder_dir, add_pooling_layer=False, output_loading_info=True)
    assert not any(loading.values()), loading
    config = model.config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
            config.intermediate_size, config.max_position_embeddings) == (128, 2, 4, 256, 64)
    assert config.vocab_size == len(vocab)
    caption = 'The large yellow circle left of the small person. Detect: star, cross?'
    ids = tokenizer(caption)['input_ids']
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.convert_ids_to_tokens(ids)[:5] == ['[CLS]', 'the', 'large', 'yellow', 'circle']
    # the same seed gives the same weights
    again = build_tiny_text_encoder(
        osp.join(shapesworld, 'again'), osp.join(shapesworld, 'tokenizer'))
    other = HFBertModel.from_pretrained(again, add_pooling_layer=False)
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                          other.state_dict().values()))
    assert text_encoder_vocabulary(osp.join(shapesworld, 'tokenizer')) == vocab


def test_grounding_bert_isolates_phrases_and_trains(shapesworld):
    model = language_model(shapesworld)
    assert isinstance(model.tokenizer, BatchEncodePlusTokenizer)
    assert all(key.startswith('language_backbone.body.model.') for key in model.state_dict())
    first = ['red circle. blue square.', 'the small person']
    second = ['red circle. green star.', 'the small person']
    out = model(first)
    changed = model(second)
    # [CLS] red circle . | blue square . [SEP]: position ids restart after every separator
    assert out['position_ids'][0].tolist() == [0, 0, 1, 2, 0, 1, 2, 0]
    assert out['masks'].shape == (2, 8, 8) and out['embedded'].shape == (2, 8, 128)
    assert out['text_token_mask'][1].tolist() == [True] * 5 + [False] * 3
    # the first phrase does not see the second one; the second one changes
    assert torch.equal(out['embedded'][0, :4], changed['embedded'][0, :4])
    assert not torch.allclose(out['embedded'][0, 4:6], changed['embedded'][0, 4:6])
    assert torch.equal(out['embedded'][1], changed['embedded'][1])
    # with BERT's plain padding mask the same change reaches the first phrase
    plain = language_model(shapesworld, use_sub_sentence_represent=False)
    plain.load_state_dict(model.state_dict())
    assert not torch.allclose(plain(first)['embedded'][0, 1:3], plain(second)['embedded'][0, 1:3])
    out['embedded'].square().sum().backward()
    bert = model.language_backbone.body.model
    for name, param in bert.named_parameters():
        if 'word_embeddings' in name:
            used = torch.tensor(sum(model.tokenizer(first)['input_ids'], [])).unique()
            assert param.grad[used].abs().sum(-1).gt(0).all(), name
        else:
            assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_config_shares_the_generalist_structure():
    cfg = Config.fromfile(CONFIG)
    det = Config.fromfile(GENERALIST).model.decoders.det.detector
    model = cfg.model
    assert model.type == 'mmdet.GroundingDINO'
    assert model.bbox_head.type == 'mmdet.GroundingDINOHead'
    assert model.train_cfg.assigner.type == 'mmdet.HungarianAssigner'
    for key in ('num_queries', 'num_feature_levels', 'neck', 'encoder', 'decoder',
                'positional_encoding', 'dn_cfg'):
        assert model[key] == det[key], key
    assert model.backbone == dict(det.backbone, out_indices=(1, 2, 3))
    for key in ('num_classes', 'contrastive_cfg', 'loss_cls', 'loss_bbox', 'loss_iou'):
        assert model.bbox_head[key] == det.bbox_head[key], key
    assert model.train_cfg.assigner.match_costs == det.train_cfg.assigner.match_costs
    # one text length everywhere: the encoder's, the sampler's and the contrastive head's
    sampler = cfg.train_dataloader.dataset.datasets[0].pipeline[3]
    assert sampler.type == 'mmvisionllm.DistinctRandomSamplingNegPos'
    assert sampler.num_sample_negative == 6
    assert model.language_model.max_tokens == sampler.max_tokens == \
        det.bbox_head.contrastive_cfg.max_text_len == 32


def check_training_samples(dataset) -> None:
    """Every sample carries a caption whose tokens_positive spans are its boxes' phrases."""
    od, vg = dataset.datasets
    for index in (0, len(od)):  # the first detection and the first grounding sample
        sample = dataset[index]['data_samples']
        labels = sample.gt_instances.labels.tolist()
        assert labels and sample.text.endswith('. ')
        for label in set(labels):
            spans = sample.tokens_positive[label]
            phrases = [sample.text[start:end] for start, end in spans]
            if index == 0:
                assert phrases[0] in od.label_map.values()
            else:
                assert phrases == [vg.get_data_info(0)['phrases'][0]['phrase']]


def test_trains_tests_and_converts_into_the_generalist(shapesworld, tmp_path, monkeypatch):
    cfg = config(CONFIG, shapesworld, monkeypatch, str(tmp_path / 'train'))
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 2
    runner = Runner.from_cfg(cfg)
    check_training_samples(runner.train_dataloader.dataset)
    runner.train()
    losses = {
        key: buffer.current()
        for key, buffer in runner.message_hub.log_scalars.items()
        if key.startswith('train/') and 'loss' in key
    }
    assert {
        'train/loss', 'train/loss_cls', 'train/loss_bbox', 'train/loss_iou', 'train/dn_loss_cls',
        'train/enc_loss_cls'
    } <= set(losses)
    assert all(math.isfinite(value) for value in losses.values()), losses
    assert runner.iter == 2
    checkpoint = str(tmp_path / 'train' / 'iter_2.pth')

    # both test configs run on the checkpoint
    det = config(CONFIG, shapesworld, monkeypatch, str(tmp_path / 'det'))
    det.load_from = checkpoint
    metrics = Runner.from_cfg(det).test()
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    rec = config(REC_CONFIG, shapesworld, monkeypatch, str(tmp_path / 'rec'))
    rec.load_from = checkpoint
    metrics = Runner.from_cfg(rec).test()
    top1, top10 = metrics['refexp/refcoco_precision@1'], metrics['refexp/refcoco_precision@10']
    assert 0.0 <= top1 <= top10 <= 1.0

    # the checkpoint converts into the tiny generalist's det decoder
    source = _load_checkpoint(checkpoint, map_location='cpu')['state_dict']
    generalist_cfg = Config.fromfile(GENERALIST)
    torch.manual_seed(0)
    generalist = MODELS.build(generalist_cfg.model)
    target = generalist.state_dict()
    result = convert_gdino_state_dict(source, prefix='decoders.det.detector.', target=target)
    text_keys = [key for key in source if key.startswith(GDINO_TEXT_PREFIXES)]
    assert any(key.startswith('language_model.language_backbone.') for key in text_keys)
    assert sorted(result.dropped) == sorted(text_keys)
    assert result.mismatched == {} and result.unexpected == []
    assert len(result.state_dict) == len(source) - len(text_keys)
    assert result.missing and all('bbox_head.mask_head.' in key for key in result.missing)
    load = generalist.load_state_dict(result.state_dict, strict=False)
    assert load.unexpected_keys == []
    for key, value in result.state_dict.items():
        assert torch.equal(generalist.state_dict()[key], value)
