"""The shipped model/stage configs load and build; other HF causal-LM layouts plug in."""
import os.path as osp

import pytest
import torch
from mllm_builders import REPO_ROOT, build_model, make_sample, random_inputs, tiny_model_cfg
from mmengine.config import Config

from mmvisionllm.models.language_models import ConversationTemplate

CONFIG_7B = osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'visionllmv2_7b.py')
STAGE1 = osp.join(REPO_ROOT, 'configs', 'visionllmv2', 'visionllmv2_tiny_stage1_shapesworld.py')


def test_7b_config_needs_its_local_checkpoints(tmp_path, monkeypatch):
    cfg = Config.fromfile(CONFIG_7B)
    assert cfg.model.vision_encoder.pretrained_path == 'checkpoints/clip-vit-large-patch14-336'
    assert cfg.model.llm.pretrained_path == 'checkpoints/vicuna-7b-v1.5'
    monkeypatch.chdir(tmp_path)  # no checkpoints/ here
    with pytest.raises(FileNotFoundError, match='vision_encoder.pretrained_path=.*clip-vit-large'):
        build_model(cfg.model.to_dict())


def test_stage1_config_builds_with_its_recipe(tokenizer_dir):
    cfg = Config.fromfile(STAGE1)
    model_cfg = cfg.model.to_dict()
    model_cfg['llm']['tokenizer_path'] = tokenizer_dir
    model = build_model(model_cfg)
    assert not any(p.requires_grad for p in model.vision_encoder.parameters())
    assert all(p.requires_grad for p in model.llm.parameters())
    assert len(model.decoders) == 0 and cfg.train_dataloader.dataset.type == 'MultiTaskDataset'
    assert model.vision_encoder.tokens_per_tile == 64


def test_qwen2_layout_with_tied_embeddings_and_lora(tokenizer_dir):
    torch.manual_seed(0)
    cfg = tiny_model_cfg(
        tokenizer_dir,
        dict(det=dict(type='ToyPointLinkDecoder')),
        template=dict(type='ConversationTemplate'))  # Vicuna v1 text template
    cfg['llm']['config'] = dict(
        model_type='qwen2',
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True)
    cfg['llm']['lora'] = dict(r=4, lora_alpha=8, target_modules=['q_proj', 'v_proj'])
    model = build_model(cfg)
    assert type(model.llm.model.get_base_model()).__name__ == 'Qwen2ForCausalLM'
    assert isinstance(model.template, ConversationTemplate) and model.template.system
    sample = make_sample(
        'det',
        '<image>\ndetect all objects .',
        'circle [DET]', ['circle'],
        boxes=[[1, 1, 9, 9]],
        labels=[0])
    data = model.data_preprocessor(dict(inputs=random_inputs(1), data_samples=[sample]), True)
    losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    trainable = [n for n, p in model.llm.named_parameters() if p.requires_grad]
    assert trainable and all('lora_' in n or 'trainable_tokens' in n for n in trainable)
    assert model.super_link.query_tables['det'].weight.grad.abs().sum() > 0


@pytest.mark.parametrize('stage', [2, 3])
def test_stage2_and_stage3_recipes(tokenizer_dir, stage):
    path = osp.join(REPO_ROOT, 'configs', 'visionllmv2',
                    f'visionllmv2_tiny_stage{stage}_shapesworld.py')
    model_cfg = Config.fromfile(path).model.to_dict()
    model_cfg['llm']['tokenizer_path'] = tokenizer_dir
    model = build_model(model_cfg)
    assert set(model.decoders) == {'det', 'pose'}
    trainable = {n.split('.')[0] for n, p in model.named_parameters() if p.requires_grad}
    llm_trainable = [n for n, p in model.llm.named_parameters() if p.requires_grad]
    if stage == 2:
        assert trainable == {'llm', 'decoders', 'super_link'}
        assert llm_trainable and all('lora_' in n or 'trainable_tokens' in n for n in llm_trainable)
    else:
        assert trainable == {'decoders', 'super_link'} and not llm_trainable
    assert model.super_link.query_tables['det'].weight.requires_grad


@pytest.mark.parametrize('config', [
    'visionllmv2_7b_stage1a_projector.py', 'visionllmv2_7b_stage1b_full.py',
    'visionllmv2_7b_coco_stage2.py', 'visionllmv2_7b_coco_stage3.py',
    'visionllmv2_qwen2_7b_coco_stage2.py'
])
def test_real_data_stage_configs_name_registered_parts(config):
    """The COCO/RefCOCO/VQAv2/LLaVA stage configs resolve every type in our registries and have
    train, val and test loops."""
    from mmvisionllm.registry import DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'visionllmv2', config))
    if 'stage2' in config or 'stage3' in config:
        assert set(cfg.model.decoders) == {'det', 'pose'} and cfg.model.llm.lora.r == 32
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        for dataset in dataset.get('datasets', [dataset]):
            assert DATASETS.get(dataset.type) is not None, dataset.type
            for transform in dataset.pipeline:
                assert TRANSFORMS.get(transform['type']) is not None, transform['type']
    for loop in ('train_cfg', 'val_cfg', 'test_cfg'):
        assert cfg[loop]
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator,
                                                  list) else [cfg.test_evaluator]
    for metric in evaluators:
        assert METRICS.get(metric.type) is not None, metric.type
    assert [h.type for h in cfg.custom_hooks] == ['AdapterCheckpointHook']
    assert HOOKS.get('AdapterCheckpointHook') is not None
    for decoder in cfg.model.decoders.values():
        assert MODELS.get(decoder.type) is not None, decoder.type
