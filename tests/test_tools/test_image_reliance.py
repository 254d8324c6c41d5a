"""image_reliance.py: image-blind answers change by 0 when the images are swapped; live ones do."""
import pytest
import torch
from mllm_builders import (build_model, make_sample, random_inputs, save_word_tokenizer,
                           tiny_model_cfg)
from tool_loader import load_tool


def _tool():
    return load_tool('analysis_tools/image_reliance.py')


def _samples(num=4):
    inputs = random_inputs(num)
    questions = [
        'what colour is the circle ?', 'how many square are there ?', 'is there a red star ?',
        'what colour is the blue object ?'
    ]
    return [
        dict(
            inputs=dict(clip=inputs['clip'][i], image=inputs['image'][i]),
            data_samples=make_sample('vqa', '<image>\n' + questions[i % 4], 'red'))
        for i in range(num)
    ]


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(tiny_model_cfg(save_word_tokenizer(str(tmp_path_factory.mktemp('tok')))))
    return model.eval()


def test_live_image_path_changes_the_answers(model):
    figures = _tool().image_reliance(model, _samples())
    assert 0 < figures['answer_prob_change'] <= 1
    assert 0 < figures['image_token_spread'] < 1
    assert figures['image_token_norm'] > 0 and figures['text_token_norm'] > 0
    assert figures['num_answer_tokens'] == 4 * 2  # 'red' and the end token of each answer


def test_constant_image_tokens_give_no_change(model):
    blind = _tool().image_reliance
    last = model.projector.layers[-1]
    saved = last.weight.detach().clone()
    with torch.no_grad():
        last.weight.zero_()  # every image token becomes the bias: the answers cannot see the image
    try:
        figures = blind(model, _samples())
    finally:
        with torch.no_grad():
            last.weight.copy_(saved)
    assert figures['answer_prob_change'] == pytest.approx(0.0, abs=1e-6)
    assert figures['answer_top1_agreement'] == 1.0
    assert figures['image_token_spread'] == pytest.approx(0.0, abs=1e-6)


def test_needs_two_samples_with_answers(model):
    tool = _tool()
    with pytest.raises(ValueError, match='at least 2 samples'):
        tool.image_reliance(model, _samples(1))
    unanswered = _samples(2)
    for sample in unanswered:
        sample['data_samples'] = make_sample('vqa', '<image>\nwhat colour is the circle ?', None)
    with pytest.raises(ValueError, match='no answer tokens'):
        tool.image_reliance(model, unanswered)
