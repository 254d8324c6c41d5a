"""A routing token nobody owns and a word outside the word-level vocabulary are errors naming the
sample and the word (they used to become <unk> and train as plain text, exit code 0)."""
import pytest
from mllm_builders import build_model, make_sample, random_inputs, tiny_model_cfg


@pytest.fixture(scope='module')
def model(tokenizer_dir):
    return build_model(tiny_model_cfg(tokenizer_dir, dict(det=dict(type='ToyPointLinkDecoder'))))


def _encode(model, sample):
    return model.data_preprocessor(
        dict(inputs=random_inputs(1), data_samples=[sample]), training=True)


def test_a_routing_token_nobody_owns_names_the_sample(model):
    sample = make_sample('xyz', '<image>\ndetect all objects .', 'circle [XYZ]', ['circle'])
    with pytest.raises(
            ValueError,
            match=r"sample 0 \(task='xyz'.*\['\[XYZ\]'\] in 'circle "
            r"\[XYZ\]' look like routing tokens but no configured decoder owns"):
        _encode(model, sample)


def test_a_word_outside_the_vocabulary_names_the_word(model):
    sample = make_sample('count', '<image>\nplease count the circles .', 'circle [DET]', ['circle'])
    with pytest.raises(
            ValueError,
            match=r"sample 0 .*words \['please', 'count', 'circles'\] "
            r"of .* are not in the tokenizer's vocabulary"):
        _encode(model, sample)


def test_known_words_and_owned_tokens_encode(model):
    data = _encode(model,
                   make_sample('det', '<image>\ndetect the circle .', 'circle [DET]', ['circle']))
    assert (data['inputs']['input_ids'] == model.llm.tokenizer.unk_token_id).sum() == 0
