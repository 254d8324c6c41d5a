"""Where a decoder loss sends gradients, per stage recipe (full, frozen LLM, LoRA)."""
import pytest
import torch
from mllm_builders import build_model, make_sample, random_inputs, tiny_model_cfg
from mmengine.optim import DefaultOptimWrapperConstructor

TOY_DET = dict(
    det=dict(type='ToyPointLinkDecoder', routing_tokens=('[DET]', '[GRD]'), num_queries=3))


def _det_batch():
    samples = [
        make_sample(
            'det',
            '<image>\ndetect all objects .',
            'circle [DET] , square [DET]', ['circle', 'square'],
            boxes=[[1, 2, 10, 12], [20, 20, 40, 40]],
            labels=[0, 1]),
        make_sample(
            'grd',
            '<image>\nfind the red circle .',
            'the red circle [GRD]', ['the red circle'],
            boxes=[[5, 5, 30, 30]],
            labels=[0]),
        make_sample('vqa', '<image>\nwhat colour is the circle ?', 'red'),
    ]
    return dict(inputs=random_inputs(3), data_samples=samples)


def _decoder_loss_grads(model):
    """Backward of the decoder loss alone; returns {name: grad or None}."""
    model.train()
    data = model.data_preprocessor(_det_batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) >= {'loss_lm', 'loss_det_box'}
    assert losses['loss_det_box'].item() > 0
    losses['loss_det_box'].backward()
    return {n: p.grad for n, p in model.named_parameters()}


def _nonzero(grad):
    return grad is not None and grad.abs().sum().item() > 0


def test_full_finetune_grads(tokenizer_dir):
    torch.manual_seed(0)
    model = build_model(tiny_model_cfg(tokenizer_dir, TOY_DET))
    grads = _decoder_loss_grads(model)
    assert _nonzero(grads['super_link.query_tables.det.weight'])
    assert _nonzero(grads['decoders.det.head.0.weight'])
    assert _nonzero(grads['llm.model.model.layers.0.self_attn.q_proj.weight'])
    assert _nonzero(grads['projector.layers.0.weight'])  # the links see the image tokens
    vision = [g for n, g in grads.items() if n.startswith('vision_encoder.')]
    assert vision and all(g is None for g in vision)  # frozen by default
    assert not any(p.requires_grad for p in model.vision_encoder.parameters())


def test_frozen_llm_still_trains_query_tables(tokenizer_dir):
    torch.manual_seed(0)
    model = build_model(
        tiny_model_cfg(
            tokenizer_dir, TOY_DET, frozen_components=('vision_encoder', 'llm', 'projector')))
    grads = _decoder_loss_grads(model)
    assert _nonzero(grads['super_link.query_tables.det.weight'])
    assert _nonzero(grads['decoders.det.head.0.weight'])
    assert all(g is None for n, g in grads.items()
               if n.startswith(('llm.', 'projector.', 'vision_encoder.')))


def test_lora_grads(tokenizer_dir):
    torch.manual_seed(0)
    cfg = tiny_model_cfg(tokenizer_dir, TOY_DET)
    cfg['llm']['lora'] = dict(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules=['q_proj', 'v_proj'])
    model = build_model(cfg)
    grads = _decoder_loss_grads(model)
    lora_b = [n for n in grads if 'lora_B' in n]
    assert lora_b and all(_nonzero(grads[n]) for n in lora_b)  # B gets grads (A's are 0 at init)
    token_rows = [n for n in grads if 'trainable_tokens_delta' in n and 'embed_tokens' in n]
    assert token_rows and _nonzero(grads[token_rows[0]])  # [DET]'s own input row
    base = [
        n for n in grads
        if n.startswith('llm.') and 'lora_' not in n and 'trainable_tokens' not in n
    ]
    assert base and all(grads[n] is None for n in base)  # base LLM weights frozen by peft
    assert _nonzero(grads['super_link.query_tables.det.weight'])


def test_paramwise_lr_multipliers(tokenizer_dir):
    model = build_model(tiny_model_cfg(tokenizer_dir, TOY_DET))
    constructor = DefaultOptimWrapperConstructor(
        optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1e-4)),
        paramwise_cfg=dict(
            custom_keys={
                'llm.': dict(lr_mult=0.1),
                'super_link.query_tables': dict(lr_mult=10.0),
                'decoders.det': dict(lr_mult=1.0)
            }))
    optim_wrapper = constructor(model)
    lrs = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optim_wrapper.optimizer.param_groups:
        for p in group['params']:
            lrs[names[id(p)]] = group['lr']
    assert lrs['llm.model.model.layers.0.mlp.up_proj.weight'] == pytest.approx(1e-5)
    assert lrs['super_link.query_tables.det.weight'] == pytest.approx(1e-3)
    assert lrs['decoders.det.head.0.weight'] == pytest.approx(1e-4)
    assert lrs['projector.layers.0.weight'] == pytest.approx(1e-4)


def test_gradient_checkpointing_matches_plain_backward(tokenizer_dir):
    grads = []
    for flag in (False, True):
        torch.manual_seed(0)
        cfg = tiny_model_cfg(tokenizer_dir, TOY_DET)
        cfg['llm']['gradient_checkpointing'] = flag
        model = build_model(cfg)
        hf_model = model.llm.model
        assert getattr(hf_model, 'is_activation_checkpointing',
                       getattr(hf_model, 'is_gradient_checkpointing', None)) == flag
        grads.append(_decoder_loss_grads(model)['super_link.query_tables.det.weight'])
    torch.testing.assert_close(grads[0], grads[1])
