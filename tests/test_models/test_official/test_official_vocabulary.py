"""The official vocabulary, placeholders and query tables in our model (reduced widths)."""
import pytest
import torch

from mmvisionllm.testing.official_parity import build_reference_small_model

OFFICIAL_IDS = {
    '[PAD]': 32000,
    '<image>': 32001,
    '<im_patch>': 32002,
    '<region>': 32003,
    '<img>': 32004,
    '</grd>': 32011,
    '[DET]': 32012,
    '[GRD]': 32013,
    '[SEG]': 32014,
    '[POSE]': 32015,
    '[GEN]': 32016,
    '[EDIT]': 32017,
    '[EMB]': 32018,
    '[EMB2]': 32019,
    '[EMB3]': 32020,
    '[EMB4]': 32021,
    '[EMB8]': 32025
}


@pytest.fixture(scope='module')
def model(vicuna_tokenizer_dir):
    return build_reference_small_model(vicuna_tokenizer_dir)


def test_official_token_ids(model):
    tokenizer = model.llm.tokenizer
    assert len(tokenizer) == 32026
    assert {t: tokenizer.convert_tokens_to_ids(t) for t in OFFICIAL_IDS} == OFFICIAL_IDS
    assert tokenizer.pad_token_id == 0 and tokenizer.pad_token == '<unk>'
    assert model.image_token_id == 32002


def test_shared_det_table_and_placeholders(model):
    link = model.super_link
    assert {
        t: link.group_of_token[i]
        for t, i in OFFICIAL_IDS.items() if i in link.group_of_token
    } == {
        '[DET]': 'det',
        '[GRD]': 'det',
        '[SEG]': 'det',
        '[POSE]': 'pose',
        '[GEN]': 'gen',
        '[EDIT]': 'edit'
    }
    assert link.placeholder_ids['det'].tolist() == [32018, 32019, 32020, 32021]
    assert link.placeholder_ids['gen'].tolist() == [32018] * 64
    # [DET] and [SEG] read the same rows; the official training-format sequence embeds
    ids = torch.tensor(
        [[1, 5, 32012, 32018, 32019, 32020, 32021, 7, 32014, 32018, 32019, 32020, 32021, 2]])
    embeds = model.embed_inputs(ids, None, None)
    table = model.super_link.query_tables.det.weight
    torch.testing.assert_close(embeds[0, 3:7], table)
    torch.testing.assert_close(embeds[0, 9:13], table)
    bad = ids.clone()
    bad[0, 4] = 32018  # [EMB] [EMB] ... after a perception token is not the official layout
    with pytest.raises(ValueError, match='not followed by its 4 query placeholders'):
        model.embed_inputs(bad, None, None)


def test_conversation_in_official_layout(model):
    """'<image>' becomes <im_patch> x 576, each routing token gets its official placeholders,
    the LM loss ignores them."""
    conversation = [{
        'from': 'human',
        'value': '<image>\npiece10 piece11'
    }, {
        'from': 'gpt',
        'value': 'piece20 [DET] piece21 [GEN]'
    }]
    encoded = model.conversation_tokenizer.encode(conversation, num_image_tiles=1)
    ids, labels = encoded.input_ids, encoded.labels
    assert ids.count(32002) == 576 and 32001 not in ids
    det = ids.index(32012)
    assert ids[det + 1:det + 5] == [32018, 32019, 32020, 32021]
    gen = ids.index(32016)
    assert ids[gen + 1:gen + 65] == [32018] * 64
    assert all(labels[i] == -100 for i, t in enumerate(ids) if t in (32018, 32019, 32020, 32021))
    assert labels[det] == 32012 and labels[gen] == 32016


def test_decoderless_group_is_a_clear_error(model):
    with pytest.raises(ValueError, match="group 'pose' have a query table but no decoder"):
        model._decoder('pose')


def test_chat_never_generates_official_placeholders(model):
    from mmvisionllm.models.mllm.link_generation import LinkAwareGreedyGenerator
    tokenizer = model.conversation_tokenizer
    assert tokenizer.placeholder_ids == [32018, 32019, 32020, 32021]
    assert tokenizer.query_ids[32012] == [32018, 32019, 32020, 32021]
    generator = LinkAwareGreedyGenerator(model.llm, tokenizer, model.super_link.group_of_token,
                                         model.embed_inputs)
    assert {32001, 32002, 32018, 32019, 32020, 32021} <= set(generator.suppressed)
