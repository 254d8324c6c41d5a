"""A checkpoint saved without a plugin's routing token loads into the extended model row by row.

Must-show 2 of issue #24: every old token keeps its saved input and output row, the new token is
appended (mean-initialised), its query table is new, and at step 0 the old tasks' logits over the
old vocabulary, decoder losses and LM loss over the old vocabulary equal the unextended model's
on the same batch within 1e-5 (plain, LoRA, tied embeddings). The LM loss over the whole new
vocabulary differs by exactly the probability mass the mean-initialised ``[CNT]`` row takes
(``-log(1 - p_new)``, checked): no linear initialisation of a row can make it zero.
"""
import copy
import logging

import pytest
import torch
from mllm_builders import (build_model, circle_square_det_sample, make_sample, random_inputs,
                           tiny_model_cfg)
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper
from mmengine.runner.checkpoint import load_checkpoint, save_checkpoint

from mmvisionllm.models.mllm.vocabulary_extension import decode_vocabulary

CORE_DECODERS = dict(det=dict(type='ToyPointLinkDecoder', routing_tokens=('[DET]', '[GRD]')))
NEW_DECODER = dict(type='ToyPointLinkDecoder', routing_tokens=('[CNT]', ), num_queries=3)
VARIANTS = {
    'plain': dict(),
    'lora': dict(lora=dict(r=4, lora_alpha=8, lora_dropout=0.0)),
    'tied': dict(tie=True),
    'tied_lora': dict(tie=True, lora=dict(r=4, lora_alpha=8, lora_dropout=0.0)),
}


class _Records(logging.Handler):
    """Keeps the messages of the logger it is added to."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _cfg(tokenizer_dir, variant, decoders):
    cfg = tiny_model_cfg(tokenizer_dir, copy.deepcopy(decoders))
    options = VARIANTS[variant]
    cfg['llm']['lora'] = options.get('lora')
    cfg['llm']['config']['tie_word_embeddings'] = options.get('tie', False)
    return cfg


def _old_task_batch():
    samples = [
        circle_square_det_sample(),
        make_sample('vqa', '<image>\nwhat colour is the circle ?', 'red'),
    ]
    return dict(inputs=random_inputs(2, seed=3), data_samples=samples)


def _losses(model):
    """Step-0 losses of the old tasks, the LM logits [B, L, V] and the labels."""
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(_old_task_batch(), training=False)
        losses = {k: float(v) for k, v in model(**data, mode='loss').items()}
        return losses, model(**data, mode='tensor'), data['inputs']['labels']


def _lm_loss(logits, labels):
    """HF's shifted LM cross-entropy."""
    return float(
        torch.nn.functional.cross_entropy(
            logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100))


def _output_rows(model):
    """[V, C] effective output embedding (LoRA token rows included)."""
    head = model.llm.model.get_output_embeddings()
    eye = torch.eye(model.llm.hidden_size)
    with torch.no_grad():
        return head(eye).T


def _input_rows(model, ids):
    with torch.no_grad():
        return model.llm.get_input_embeddings()(torch.tensor(ids))


@pytest.fixture(scope='module')
def saved_core(tokenizer_dir, tmp_path_factory):
    """Per variant: a core model trained 25 steps on the old tasks and its checkpoint."""
    cache = {}

    def get(variant):
        if variant not in cache:
            torch.manual_seed(0)
            model = build_model(_cfg(tokenizer_dir, variant, CORE_DECODERS))
            wrapper = OptimWrapper(
                torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3))
            model.train()
            for _ in range(25):
                model.train_step(_old_task_batch(), wrapper)
            path = str(tmp_path_factory.mktemp(f'core_{variant}') / 'core.pth')
            save_checkpoint(model.state_dict(), path)
            cache[variant] = (model, path)
        return cache[variant]

    return get


@pytest.mark.parametrize('variant', sorted(VARIANTS) + ['plain_into_lora'])
def test_old_rows_and_old_task_loss_survive_the_new_token(variant, tokenizer_dir, saved_core):
    """``plain_into_lora``: a checkpoint without LoRA into a LoRA model with the new token (the
    stage-3 recipe of projects/object_counting)."""
    core_variant, variant = ('plain', 'lora') if variant == 'plain_into_lora' else (variant, ) * 2
    core, path = saved_core(core_variant)
    old_vocab = decode_vocabulary(core.token_vocabulary)
    assert '[CNT]' not in old_vocab
    torch.manual_seed(1)  # other random init than the core: every kept row must come from disk
    extended = build_model(_cfg(tokenizer_dir, variant, dict(CORE_DECODERS, count=NEW_DECODER)))
    handler = _Records()
    MMLogger.get_current_instance().addHandler(handler)
    try:
        load_checkpoint(extended, path, map_location='cpu', strict=False)
    finally:
        MMLogger.get_current_instance().removeHandler(handler)
    log = '\n'.join(handler.messages)

    new_vocab = decode_vocabulary(extended.token_vocabulary)
    assert new_vocab[:len(old_vocab)] == old_vocab  # stable ids: the new token is appended
    assert new_vocab[len(old_vocab):] == ['[CNT]']
    old_ids = list(range(len(old_vocab)))
    torch.testing.assert_close(
        _input_rows(extended, old_ids), _input_rows(core, old_ids), rtol=0, atol=0)
    torch.testing.assert_close(
        _output_rows(extended)[:len(old_vocab)], _output_rows(core), rtol=0, atol=0)
    new_id = len(old_vocab)
    mean_row = core.llm.model.get_input_embeddings().weight[:new_id].detach().mean(0) \
        if (core_variant, variant) in (('plain', 'plain'), ('tied', 'tied')) else None
    if mean_row is not None:
        torch.testing.assert_close(_input_rows(extended, [new_id])[0], mean_row)
    assert extended.super_link.query_tables['count'].weight.shape == (3, 64)
    assert "new tokens ['[CNT]']" in log and "new query tables ['count']" in log

    (before, core_logits, labels), (after, logits, _) = _losses(core), _losses(extended)
    assert set(after) == set(before)
    # the old tokens' logits are the unextended model's (within 1e-5) ...
    torch.testing.assert_close(logits[..., :new_id], core_logits, rtol=0, atol=1e-5)
    # ... so are the decoder losses and the LM loss over the old vocabulary
    for key in before:
        if key != 'loss_lm':
            assert abs(after[key] - before[key]) < 1e-5, (key, before[key], after[key])
    assert abs(_lm_loss(logits[..., :new_id], labels) - before['loss_lm']) < 1e-5
    # the full-vocabulary LM loss moves only by the softmax mass of the mean-initialised row
    p_new = logits.softmax(-1)[..., new_id][:, :-1][labels[:, 1:] != -100]
    shift = float(-torch.log1p(-p_new).mean())
    assert abs(after['loss_lm'] - before['loss_lm'] - shift) < 1e-5


def test_rows_follow_the_token_string_when_ids_differ(tokenizer_dir, saved_core):
    """A model whose vocabulary orders two routing tokens the other way round still gets each
    token's own saved rows (the mapping is by string, not by position)."""
    core, path = saved_core('plain')
    cfg = _cfg(tokenizer_dir, 'plain', CORE_DECODERS)
    cfg['routing_vocabulary'] = ('[GRD]', '[SEG]', '[DET]', '[POSE]', '[GEN]', '[EDIT]')
    torch.manual_seed(2)
    swapped = build_model(cfg)
    load_checkpoint(swapped, path, map_location='cpu', strict=False)
    core_ids = core.llm.tokenizer.convert_tokens_to_ids(['[DET]', '[GRD]'])
    swapped_ids = swapped.llm.tokenizer.convert_tokens_to_ids(['[DET]', '[GRD]'])
    assert swapped_ids == core_ids[::-1]
    torch.testing.assert_close(_input_rows(swapped, swapped_ids), _input_rows(core, core_ids))
    torch.testing.assert_close(_output_rows(swapped)[swapped_ids], _output_rows(core)[core_ids])
