"""Unit tests of VisionLLMv2 parts: template, tokenisation, special tokens, super link, encoders."""
import pytest
import torch
from mllm_builders import turn
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from mmvisionllm.models.language_models import (IGNORE_INDEX, ConversationTemplate,
                                                ConversationTokenizer,
                                                add_special_tokens_with_mean_init)
from mmvisionllm.models.mllm import MLPProjector
from mmvisionllm.models.region_encoder import MaskPointRegionEncoder
from mmvisionllm.models.super_link import SuperLink
from mmvisionllm.models.vision_encoders import CLIPVisionEncoder

SPECIALS = ['<image>', '<region>', '[EMB]', '[DET]', '[GRD]', '[POSE]', '<|user|>', '<|assistant|>']


def _tiny_llm(tokenizer):
    config = AutoConfig.for_model(
        'llama',
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2)
    return AutoModelForCausalLM.from_config(config)


@pytest.fixture()
def tokenizer_with_specials(tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    ids = add_special_tokens_with_mean_init(tokenizer, _tiny_llm(tokenizer), SPECIALS)
    return tokenizer, ids


def test_vicuna_template_layout():
    template = ConversationTemplate()
    turns = template.render([
        turn('human', '<image>\nWhat is it?'),
        turn('gpt', 'A cat.'),
        turn('human', 'Colour?'),
        turn('gpt', 'Black.')
    ])
    assert turns[0].prompt == (
        ConversationTemplate.VICUNA_SYSTEM + ' USER: <image>\nWhat is it?'
        ' ASSISTANT:')
    assert turns[0].answer == 'A cat.'
    assert turns[1].prompt == 'USER: Colour? ASSISTANT:'
    assert template.render(
        turns and [turn('human', 'q'), turn('gpt', 'a')], drop_last_answer=True)[0].answer is None
    with pytest.raises(ValueError, match='starts with a human turn'):
        template.render([turn('gpt', 'a')])


def test_special_tokens_get_mean_rows(tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    model = _tiny_llm(tokenizer)
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    ids = add_special_tokens_with_mean_init(tokenizer, model, ['[DET]', '<image>'])
    assert len(tokenizer) == old_in.shape[0] + 2
    assert tokenizer.convert_ids_to_tokens(
        tokenizer('find [DET]', add_special_tokens=False)['input_ids'])[-1] == '[DET]'
    new_in = model.get_input_embeddings().weight.detach()
    new_out = model.get_output_embeddings().weight.detach()
    for token_id in ids.values():
        torch.testing.assert_close(new_in[token_id], old_in.mean(0))
        torch.testing.assert_close(new_out[token_id], old_out.mean(0))
    torch.testing.assert_close(new_in[:old_in.shape[0]], old_in)


def test_conversation_tokenizer_labels_and_placeholders(tokenizer_with_specials):
    tokenizer, ids = tokenizer_with_specials
    template = ConversationTemplate(
        system='',
        user_prefix='<|user|> ',
        assistant_prefix=' <|assistant|>',
        role_tokens=('<|user|>', '<|assistant|>'))
    encoder = ConversationTokenizer(
        tokenizer,
        template,
        tokens_per_tile=4,
        query_counts={
            '[DET]': 3,
            '[GRD]': 3
        },
        routing_vocabulary=['[DET]', '[GRD]', '[POSE]'])
    encoded = encoder.encode([
        turn('human', '<image>\ndetect all objects .'),
        turn('gpt', 'circle [DET] , square [DET]')
    ],
                             num_image_tiles=2)
    input_ids, labels = encoded.input_ids, encoded.labels
    assert len(input_ids) == len(labels)
    assert input_ids[0] == tokenizer.bos_token_id and labels[0] == IGNORE_INDEX
    assert input_ids.count(ids['<image>']) == 8  # 2 tiles x 4 tokens
    assert input_ids.count(ids['[EMB]']) == 6  # 2 routing tokens x 3 queries
    det_positions = [i for i, t in enumerate(input_ids) if t == ids['[DET]']]
    for p in det_positions:
        assert labels[p] == ids['[DET]']  # the routing token is supervised
        assert input_ids[p + 1:p + 4] == [ids['[EMB]']] * 3
        assert labels[p + 1:p + 4] == [IGNORE_INDEX] * 3  # its queries are not
    supervised = [t for t in labels if t != IGNORE_INDEX]
    assert tokenizer.convert_ids_to_tokens(supervised) == [
        'circle', '[DET]', ',', 'square', '[DET]', '</s>'
    ]
    assert all(labels[i] == IGNORE_INDEX for i, t in enumerate(input_ids) if t == ids['<image>'])

    turns = encoder.encode_turns([turn('human', 'what is the colour ?'),
                                  turn('gpt', 'red')],
                                 0,
                                 drop_last_answer=True)
    assert len(turns) == 1 and turns[0].answer_ids is None
    assert turns[0].prompt_ids[-1] == ids['<|assistant|>']


def test_super_link_embeds_and_extracts():
    torch.manual_seed(0)
    token_ids = {'[EMB]': 1, '[DET]': 2, '[GRD]': 3, '[POSE]': 4}
    link = SuperLink(
        groups=dict(
            det=dict(routing_tokens=('[DET]', '[GRD]'), num_queries=2),
            pose=dict(routing_tokens=('[POSE]', ), num_queries=3)),
        token_ids=token_ids,
        hidden_size=8)
    input_ids = torch.tensor([[9, 2, 1, 1, 9, 2, 1, 1, 0], [9, 9, 4, 1, 1, 1, 3, 1, 1]])
    embeds = torch.zeros(2, 9, 8, requires_grad=True)
    filled = link.embed_queries(embeds, input_ids)
    det_table = link.query_tables['det'].weight
    torch.testing.assert_close(filled[0, 2:4], det_table)
    torch.testing.assert_close(filled[0, 6:8], det_table)
    torch.testing.assert_close(filled[1, 3:6], link.query_tables['pose'].weight)
    torch.testing.assert_close(filled[1, 7:9], det_table)
    assert filled[0, 0].abs().sum() == 0

    hidden = torch.arange(2 * 9, dtype=torch.float32).view(2, 9, 1).expand(2, 9, 8)
    links = link.extract(hidden, input_ids)
    det, pose = links['det'], links['pose']
    assert det.embeds.shape == (2, 2, 2, 8) and det.sample_indices == [0, 1]
    assert det.mask.tolist() == [[True, True], [True, False]]
    assert det.embeds[0, :, :, 0].tolist() == [[2.0, 3.0], [6.0, 7.0]]
    assert det.embeds[1, 0, :, 0].tolist() == [16.0, 17.0]
    assert det.embeds[1, 1].abs().sum() == 0  # padded target is zero
    assert det.link_tokens == [['[DET]', '[DET]'], ['[GRD]']]
    assert pose.embeds.shape == (1, 1, 3, 8) and pose.sample_indices == [1]
    assert pose.embeds[0, 0, :, 0].tolist() == [12.0, 13.0, 14.0]

    with pytest.raises(ValueError, match='query placeholders'):
        link.embed_queries(embeds, torch.tensor([[9, 2, 1, 9, 0, 0, 0, 0, 0]] * 2))


def test_shared_query_table_feeds_every_group_and_learns_from_all():
    token_ids = {'[EMB]': 1, '[DET]': 2, '[POSE]': 4}
    groups = dict(
        det=dict(routing_tokens=('[DET]', ), num_queries=2),
        pose=dict(routing_tokens=('[POSE]', ), num_queries=2))
    link = SuperLink(groups=groups, token_ids=token_ids, hidden_size=8, shared_table=True)
    assert link.query_tables['det'] is link.query_tables['pose']
    assert len(list(link.parameters())) == 1
    input_ids = torch.tensor([[9, 2, 1, 1, 4, 1, 1]])
    filled = link.embed_queries(torch.zeros(1, 7, 8), input_ids)
    torch.testing.assert_close(filled[0, 2:4], filled[0, 5:7])
    # both groups' links send gradient into the one table
    filled[0, 5:7].sum().backward()
    assert link.query_tables['det'].weight.grad.abs().sum() > 0
    # per-group tables stay apart
    separate = SuperLink(groups=groups, token_ids=token_ids, hidden_size=8)
    assert separate.query_tables['det'] is not separate.query_tables['pose']
    groups['pose']['num_queries'] = 3
    with pytest.raises(ValueError, match='same num_queries'):
        SuperLink(groups=groups, token_ids=token_ids, hidden_size=8, shared_table=True)


def test_clip_encoder_and_projector_shapes():
    encoder = CLIPVisionEncoder(
        config=dict(
            image_size=32,
            patch_size=8,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=3,
            num_attention_heads=2))
    assert encoder.tokens_per_tile == 16 and encoder.grid_size == 4
    features = encoder(torch.randn(3, 3, 32, 32))
    assert features.patch_tokens.shape == (3, 16, 16)
    assert features.region_layers.shape == (3, 3, 16, 16)
    hidden = encoder.clip(pixel_values=torch.randn(1, 3, 32, 32), output_hidden_states=True)
    assert hidden.hidden_states[-2].shape[1] == 17  # CLS + 16 patches before dropping
    with pytest.raises(ValueError, match='32x32'):
        encoder(torch.randn(1, 3, 64, 64))
    projector = MLPProjector(16, 24)
    assert projector(features.patch_tokens).shape == (3, 16, 24)
    assert isinstance(projector.layers[1], torch.nn.GELU)


def test_region_encoder_depends_on_the_mask():
    torch.manual_seed(0)
    encoder = MaskPointRegionEncoder(
        out_channels=24, vision_channels=16, grid_size=4, stem_channels=8, num_points=8).eval()
    thumbnail = torch.randn(3, 32, 32)
    vision_layers = torch.randn(3, 16, 16)
    left = torch.zeros(40, 40, dtype=torch.bool)
    left[5:20, 2:12] = True
    right = torch.zeros(40, 40, dtype=torch.bool)
    right[20:35, 28:38] = True
    tokens = encoder(thumbnail, vision_layers, [left, right, left])
    assert tokens.shape == (3, 24)
    torch.testing.assert_close(tokens[0], tokens[2])
    assert (tokens[0] - tokens[1]).abs().max() > 1e-4
    tokens.sum().backward()
    assert encoder.stem[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='empty'):
        encoder(thumbnail, vision_layers, [torch.zeros(40, 40, dtype=torch.bool)])
