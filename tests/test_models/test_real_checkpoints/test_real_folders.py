"""Each real-format folder loads by path and its parts behave as the real checkpoint's would."""
import copy
import json
import logging
import os.path as osp

import pytest
import torch
from mllm_builders import make_sample, random_inputs, tiny_model_cfg
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from real_layouts import CLIP_MEAN, CLIP_STD, CLIP_TILE, save_clip_l336
from transformers import AutoModelForCausalLM, LlamaTokenizer, Qwen2Tokenizer

from mmvisionllm.models.language_models import HFCausalLM
from mmvisionllm.models.mllm.length_policy import fit_conversation
from mmvisionllm.models.vision_encoders import CLIPVisionEncoder
from mmvisionllm.registry import MODELS

ROUTING = ['<image>', '[DET]', '[SEG]']


def test_vicuna_sentencepiece_folder_loads(layouts):
    llm = HFCausalLM(pretrained_path=layouts['vicuna'])
    assert isinstance(llm.tokenizer, LlamaTokenizer)  # from tokenizer.model (sentencepiece)
    ids = llm.add_special_tokens(ROUTING)
    text = llm.tokenizer('find the star [DET] now', add_special_tokens=False).input_ids
    assert ids['[DET]'] in text  # one token, not split by the sentencepiece model


def test_qwen2_new_tokens_take_padding_rows_mean_initialised(layouts):
    original = AutoModelForCausalLM.from_pretrained(layouts['qwen2'])
    rows = original.get_input_embeddings().weight.detach().clone()
    llm = HFCausalLM(pretrained_path=layouts['qwen2'])
    assert isinstance(llm.tokenizer, Qwen2Tokenizer)
    num_words = len(llm.tokenizer)
    ids = llm.add_special_tokens(ROUTING)
    embedding = llm.model.get_input_embeddings().weight
    assert embedding.shape == rows.shape  # the padding rows took the new tokens: no resize
    assert llm.model.get_output_embeddings().weight is embedding  # still tied
    mean = rows[:num_words].mean(0)
    for token in ROUTING:
        assert num_words <= ids[token] < rows.shape[0]
        torch.testing.assert_close(embedding[ids[token]], mean)
    torch.testing.assert_close(embedding[:num_words], rows[:num_words])


def test_tied_qwen2_lora_token_rows_join_one_parameter_group(layouts):
    llm = HFCausalLM(
        pretrained_path=layouts['qwen2'],
        lora=dict(r=4, lora_alpha=8, target_modules=['q_proj', 'v_proj']))
    llm.add_special_tokens(ROUTING)
    llm.apply_lora()
    wrapper = torch.nn.Module()
    wrapper.llm = llm
    named = dict(wrapper.named_parameters(remove_duplicate=False))
    delta = [n for n in named if 'trainable_tokens_delta' in n]
    assert len(delta) == 2 and named[delta[0]] is named[delta[1]]  # peft shares the tied delta
    cfg = dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=1e-4),
        paramwise_cfg=dict(custom_keys={'llm.': dict(lr_mult=0.1)}))
    with pytest.raises(ValueError, match='more than one parameter group'):
        build_optim_wrapper(wrapper, copy.deepcopy(cfg))  # mmengine's own constructor
    cfg['constructor'] = 'SharedParamOptimWrapperConstructor'
    optimizer = build_optim_wrapper(wrapper, cfg).optimizer
    grouped = [id(p) for g in optimizer.param_groups for p in g['params']]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == {id(p) for p in wrapper.parameters() if p.requires_grad}
    assert all(g['lr'] == pytest.approx(1e-5) for g in optimizer.param_groups)


def test_clip_statistics_and_tile_size_come_from_the_image_processor(layouts, tokenizer_dir,
                                                                     tmp_path):
    cfg = tiny_model_cfg(tokenizer_dir)
    cfg['vision_encoder'] = dict(type='CLIPVisionEncoder', pretrained_path=layouts['clip'])
    model = MODELS.build(cfg)
    assert model.vision_encoder.image_size == CLIP_TILE
    torch.testing.assert_close(model.data_preprocessor.mean.flatten(), torch.tensor(CLIP_MEAN))
    torch.testing.assert_close(model.data_preprocessor.std.flatten(), torch.tensor(CLIP_STD))
    # statistics the config gives win (with a warning)
    cfg['data_preprocessor'] = dict(
        type='VisionLLMv2DataPreprocessor', mean=(0, 0, 0), std=(1, 1, 1))
    assert MODELS.build(cfg).data_preprocessor.mean.abs().sum() == 0
    # a processor that crops another size than the tower takes is refused
    other = save_clip_l336(str(tmp_path / 'clip'))
    with open(osp.join(other, 'preprocessor_config.json')) as f:
        processor = json.load(f)
    processor['crop_size'] = dict(height=56, width=56)
    with open(osp.join(other, 'preprocessor_config.json'), 'w') as f:
        json.dump(processor, f)
    with pytest.raises(ValueError, match='crops'):
        CLIPVisionEncoder(pretrained_path=other)


def test_any_device_amp_optim_wrapper_on_cpu():
    model = torch.nn.Linear(4, 4)
    with pytest.raises(ValueError, match='needs a GPU'):
        build_optim_wrapper(
            model,
            dict(
                type='AnyDeviceAmpOptimWrapper',
                dtype='float16',
                optimizer=dict(type='SGD', lr=0.1)))
    wrapper = build_optim_wrapper(
        model, dict(type='AnyDeviceAmpOptimWrapper', optimizer=dict(type='AdamW', lr=0.1)))
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled('cpu')
        assert torch.get_autocast_dtype('cpu') == torch.bfloat16
        out = model(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    state = wrapper.state_dict()
    assert 'loss_scaler' not in state and state['state']
    gpu_state = dict(copy.deepcopy(state), loss_scaler=dict(scale=65536.0))
    wrapper.load_state_dict(gpu_state)  # a GPU run's checkpoint resumes on the CPU


def _words(turns):
    return sum(len(t['value'].split(' ')) + 99 * t['value'].count('<image>') for t in turns)


def test_length_policy_cuts_text_never_images_or_answers():
    long_question = '<image>\n' + ' '.join(['word'] * 50)
    conversation = [
        dict(**{'from': 'human'}, value=long_question),
        dict(**{'from': 'gpt'}, value='star [DET] , circle [DET]'),
        dict(**{'from': 'human'}, value='and now ?'),
        dict(**{'from': 'gpt'}, value='yes'),
    ]
    fitted, dropped = fit_conversation(conversation, 10**4, _words, 'sample 0')
    assert fitted == conversation and dropped == ''
    fitted, dropped = fit_conversation(conversation, _words(conversation[:2]), _words, 's')
    assert fitted == conversation[:2] and dropped == '1 of 2 exchanges'
    fitted, dropped = fit_conversation(conversation, 130, _words, 's')
    assert _words(fitted) <= 130 and fitted[0]['value'].startswith('<image>')
    assert fitted[1] == conversation[1] and 'words of the first question' in dropped
    with pytest.raises(ValueError, match='sample 7.*first answer'):
        fit_conversation(conversation, 50, _words, 'sample 7')


def test_long_sample_is_shortened_with_a_warning_not_a_crash(tokenizer_dir):
    model = MODELS.build(tiny_model_cfg(tokenizer_dir))
    sample = make_sample('vqa', '<image>\n' + 'what colour is the circle ? ' * 40, 'red')
    data = dict(inputs=random_inputs(1), data_samples=[sample])
    full = len(model.data_preprocessor(copy.deepcopy(data))['inputs']['input_ids'][0])
    model.data_preprocessor.max_length = full - 20
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        out = model.data_preprocessor(data)
    finally:
        logger.removeHandler(handler)
    assert out['inputs']['input_ids'].shape[1] <= full - 20
    assert any('longer than max_length' in r.getMessage() for r in records)
    answer = out['inputs']['labels'][0]
    assert (answer != -100).any()  # the answer is still supervised
    assert out['data_samples'][0].metainfo['conversation'][1]['value'] == 'red'
