"""Prediction: KV-cache greedy decoding, live routing to a decoder, teacher forcing, multi-turn."""
import pytest
import torch
from mllm_builders import build_model, make_sample, random_inputs, tiny_model_cfg, turn

TOY_DET = dict(det=dict(type='ToyPointLinkDecoder', num_queries=3))


@pytest.fixture(scope='module')
def model(tokenizer_dir):
    torch.manual_seed(0)
    return build_model(tiny_model_cfg(tokenizer_dir, TOY_DET, max_new_tokens=10)).eval()


class ForcedTokens:
    """Forward hook on the LM head: the i-th call's last position predicts ``tokens[i]``."""

    def __init__(self, model, tokens):
        self.ids = model.tokenizer.convert_tokens_to_ids(tokens)
        self.calls = 0
        self.handle = model.llm.model.get_output_embeddings().register_forward_hook(self)

    def __call__(self, module, args, logits):
        if self.calls < len(self.ids):
            logits = logits.clone()
            logits[:, -1, self.ids[self.calls]] += 1e4
        self.calls += 1
        return logits


def _naive_greedy(model, data, num_steps):
    """Greedy decoding by re-running the whole sequence at every step (no cache)."""
    inputs = data['inputs']
    sample = data['data_samples'][0]
    image_tokens, _ = model.encode_images(inputs['clip_pixels'], [sample])
    turns = model.conversation_tokenizer.encode_turns(
        sample.metainfo['conversation'], inputs['clip_pixels'][0].shape[0], drop_last_answer=True)
    ids = list(turns[0].prompt_ids)
    generated = []
    for _ in range(num_steps):
        input_ids = torch.tensor([ids])
        logits = model.llm(
            inputs_embeds=model.embed_inputs(input_ids, image_tokens[0], None)).logits
        token = int(logits[0, -1].argmax())
        if token == model.tokenizer.eos_token_id:
            break
        generated.append(token)
        ids.append(token)
    return generated


def test_cached_generation_equals_naive_greedy(model):
    sample = make_sample('vqa', '<image>\nwhat colour is the circle ?', 'red')
    data = model.data_preprocessor(dict(inputs=random_inputs(1), data_samples=[sample]))
    expected = _naive_greedy(model, data, model.max_new_tokens)
    sample = model(**data, mode='predict')[0]
    expected_text = model.tokenizer.decode(expected, clean_up_tokenization_spaces=True)
    assert sample.metainfo['pred_text'] == expected_text
    assert len(expected) > 0


def _det_sample():
    return make_sample(
        'det',
        '<image>\ndetect all objects .',
        'circle [DET] , square [DET]', ['circle', 'square'],
        boxes=[[1, 2, 10, 12], [20, 20, 40, 40]],
        labels=[0, 1])


def test_chat_routing_matches_teacher_forcing(model):
    inputs = random_inputs(1, seed=3)
    teacher = _det_sample()
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=[teacher]))
    model.predict_mode = 'teacher_forced'
    teacher = model(**data, mode='predict')[0]
    assert 'pred_text' not in teacher.metainfo  # routed: decoded, not generated
    assert teacher.metainfo['link_tokens'] == ['[DET]', '[DET]']

    free = _det_sample()
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=[free]))
    model.predict_mode = 'chat'
    decoder = model.decoders['det']
    decoder.calls.clear()
    forced = ForcedTokens(model, ['circle', '[DET]', ',', 'square', '[DET]', '</s>'])
    try:
        free = model(**data, mode='predict')[0]
    finally:
        forced.handle.remove()
        model.predict_mode = 'teacher_forced'
    assert free.metainfo['pred_text'] == 'circle [DET], square [DET]'
    assert free.metainfo['target_names'] == ['circle', 'square']
    assert decoder.calls == [dict(mode='predict', shape=(1, 2, 3, 64))]
    # the live links are the hidden states teacher forcing reads: same decoder output
    torch.testing.assert_close(
        free.pred_instances.bboxes, teacher.pred_instances.bboxes, rtol=1e-4, atol=1e-4)
    assert free.pred_instances.labels.tolist() == [0, 1]


def test_text_answers_are_generated_in_teacher_forced_mode(model):
    samples = [_det_sample(), make_sample('vqa', '<image>\nhow many objects are there ?', 'two')]
    data = model.data_preprocessor(dict(inputs=random_inputs(2), data_samples=samples))
    samples = model(**data, mode='predict')
    assert 'pred_instances' in samples[0] and 'pred_text' not in samples[0].metainfo
    assert isinstance(samples[1].metainfo['pred_text'], str)
    assert 'pred_instances' not in samples[1]


def test_multi_turn_cache_equals_given_history(model):
    from mmvisionllm.apis import chat
    image = dict(clip=random_inputs(1)['clip'][0], image=random_inputs(1)['image'][0])
    both = chat(model, image, ['what colour is the circle ?', 'how many objects are there ?'])
    assert len(both) == 2
    history = [
        turn('human', 'what colour is the circle ?'),
        turn('gpt', both[0].text),
        turn('human', 'how many objects are there ?')
    ]
    again = chat(model, image, history)
    assert len(again) == 1 and again[0].text == both[1].text
    single = chat(model, image, 'what colour is the circle ?')
    assert single[0].text == both[0].text


def test_chat_remaps_dataset_labels_by_emitted_name(model):
    sample = _det_sample()
    sample.set_metainfo(dict(target_label_ids=[4, 2]))  # circle -> 4, square -> 2
    data = model.data_preprocessor(dict(inputs=random_inputs(1), data_samples=[sample]))
    model.predict_mode = 'chat'
    forced = ForcedTokens(model,
                          ['square', '[DET]', ',', 'star', '[DET]', ',', 'circle', '[DET]', '</s>'])
    try:
        sample = model(**data, mode='predict')[0]
    finally:
        forced.handle.remove()
        model.predict_mode = 'teacher_forced'
    assert sample.metainfo['target_names'] == ['square', 'star', 'circle']
    assert sample.metainfo['target_label_ids'] == [2, -1, 4]  # 'star' was not a target
    assert sample.pred_instances.labels.tolist() == [0, 1, 2]


def test_embed_scale_scales_the_word_rows_only(tokenizer_dir):
    """``llm.embed_scale`` multiplies the token embeddings; the image rows (and query rows) are
    written in unscaled, and cached generation still reads the same embeddings as a full pass."""
    torch.manual_seed(0)
    cfg = tiny_model_cfg(tokenizer_dir, TOY_DET, max_new_tokens=6)
    cfg['llm']['embed_scale'] = 8.0
    scaled = build_model(cfg).eval()
    sample = make_sample('vqa', '<image>\nwhat colour is the circle ?', 'red')
    data = scaled.data_preprocessor(dict(inputs=random_inputs(1), data_samples=[sample]))
    ids = data['inputs']['input_ids']
    image_tokens, _ = scaled.encode_images(data['inputs']['clip_pixels'], data['data_samples'])
    embeds = scaled.embed_inputs(ids, image_tokens[0], None)
    table = scaled.llm.get_input_embeddings().weight
    is_image = ids == scaled.image_token_id
    torch.testing.assert_close(embeds[~is_image], 8.0 * table[ids[~is_image]])
    torch.testing.assert_close(embeds[is_image], image_tokens[0])
    expected = _naive_greedy(scaled, data, scaled.max_new_tokens)
    predicted = scaled(**data, mode='predict')[0]
    assert predicted.metainfo['pred_text'] == scaled.tokenizer.decode(
        expected, clean_up_tokenization_spaces=True)


def test_embed_scale_must_be_positive(tokenizer_dir):
    cfg = tiny_model_cfg(tokenizer_dir)
    cfg['llm']['embed_scale'] = 0.0
    with pytest.raises(ValueError, match='embed_scale must be positive'):
        build_model(cfg)


@pytest.mark.parametrize('placeholder', ['<image>', '<region>', '[EMB]'])
def test_greedy_generation_never_emits_a_placeholder(model, placeholder):
    """Emitted, a placeholder crashed the next step ('1 image placeholders in the tokens but 0 image
    embeddings'), e.g. with an unloaded model: it is suppressed like a bad word."""
    sample = make_sample('vqa', '<image>\nwhat colour is the circle ?', 'red')
    data = model.data_preprocessor(dict(inputs=random_inputs(1), data_samples=[sample]))
    forced = ForcedTokens(model, [placeholder] * model.max_new_tokens)
    try:
        text = model(**data, mode='predict')[0].metainfo['pred_text']
    finally:
        forced.handle.remove()
    assert forced.calls > 1 and placeholder not in text
