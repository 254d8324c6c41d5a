"""llm_word_probe.py: the LLM features it reads, its labels and its probe (known answers)."""
import torch
from mllm_builders import build_model, make_sample, random_inputs, tiny_model_cfg
from tool_loader import load_tool

word_probe = load_tool('analysis_tools/llm_word_probe.py')

TOY_GRD = dict(det=dict(type='ToyPointLinkDecoder', num_queries=3))


def _packed(expressions):
    inputs = random_inputs(len(expressions))
    return [
        dict(
            inputs=dict(clip=clip, image=image),
            data_samples=make_sample(
                'grd',
                f'<image>\nlocate {e} .',
                f'{e} [GRD]', [e],
                boxes=[[1, 2, 10, 12]],
                labels=[0])) for clip, image, e in zip(inputs['clip'], inputs['image'], expressions)
    ]


def test_layer_zero_features_are_the_input_rows(tokenizer_dir):
    torch.manual_seed(0)
    cfg = tiny_model_cfg(tokenizer_dir, TOY_GRD)
    cfg['llm']['embed_scale'] = 4.0
    model = build_model(cfg).eval()
    features, words = word_probe.routed_features(model,
                                                 _packed(['the red circle', 'a big blue square']))
    assert words == [['the', 'red', 'circle'], ['a', 'big', 'blue', 'square']]
    num_layers = model.llm.model.config.num_hidden_layers
    assert sorted({layer for _, layer in features}) == list(range(num_layers + 1))
    table = model.llm.get_input_embeddings().weight
    tokens = model.tokenizer.convert_tokens_to_ids
    for row, sample_words in enumerate(words):
        torch.testing.assert_close(features[('answer words', 0)][row],
                                   4.0 * table[tokens(sample_words)].mean(0))
        torch.testing.assert_close(features[('routing token', 0)][row],
                                   4.0 * table[tokens('[GRD]')])
        torch.testing.assert_close(features[('queries', 0)][row],
                                   model.super_link.query_tables['det'].weight.mean(0))
    # deeper layers mix the words with their context: the two samples' rows differ there
    assert not torch.allclose(features[('queries', num_layers)][0],
                              features[('queries', num_layers)][1])


def test_word_labels_take_the_first_word_of_the_group():
    words = [['the', 'red', 'square', 'left', 'of', 'the', 'circle'], ['the', 'person'], ['it']]
    labels = word_probe.word_labels(words, ['person', 'circle', 'square'])
    assert labels.tolist() == [2, 0, -1]


def test_probe_reads_informative_features_and_falls_back_to_the_majority():
    generator = torch.Generator().manual_seed(0)
    y_train = torch.randint(0, 3, (90, ), generator=generator)
    y_val = torch.randint(0, 3, (60, ), generator=generator)
    y_train[0] = -1  # an unlabelled sample is left out
    informative = word_probe.probe(
        (torch.nn.functional.one_hot(y_train.clamp(min=0), 3).float(), y_train),
        (torch.nn.functional.one_hot(y_val, 3).float(), y_val),
        3,
        iters=200)
    assert informative['accuracy'] == 1.0
    assert informative['num_val'] == 60
    blind = word_probe.probe((torch.zeros(90, 3), y_train), (torch.zeros(60, 3), y_val),
                             3,
                             iters=200)
    majority = torch.bincount(y_train[y_train >= 0]).argmax()
    assert blind['majority_accuracy'] == float((y_val == majority).float().mean()) < 1.0
    assert blind['accuracy'] == blind['majority_accuracy']
