"""compose_checkpoint.py: the generalist's start from an MLLM checkpoint and specialist decoders."""
import pytest
import torch
from tool_loader import load_tool

compose = load_tool('model_converters/compose_checkpoint.py')


def test_parts_replace_whole_subtrees_and_are_renamed():
    base = {
        'llm.w': torch.ones(2),
        'decoders.det.detector.a': torch.zeros(3),
        'decoders.det.detector.old_only': torch.zeros(1),
        'decoders.gen.b': torch.zeros(1),
        'super_link.query_tables.det.weight': torch.zeros(4, 2),
    }
    det = {'decoders.det.detector.a': torch.full((3, ), 2.0)}
    pose = {'decoder.x': torch.full((2, ), 3.0), 'prompts.weight': torch.zeros(5, 2)}
    composed, report = compose.compose_state_dict(
        base, [('decoders.det.', 'decoders.det.', det), ('decoder.', 'decoders.pose.', pose)],
        drop=['super_link.query_tables.', 'decoders.gen.'])
    assert sorted(composed) == ['decoders.det.detector.a', 'decoders.pose.x', 'llm.w']
    assert composed['decoders.det.detector.a'].tolist() == [2.0, 2.0, 2.0]
    assert composed['decoders.pose.x'].tolist() == [3.0, 3.0]  # the specialist's prompts stay out
    assert any('replacing 2' in line for line in report)  # the base's own det decoder is gone


def test_empty_part_and_clashing_parts_are_errors():
    base = {'llm.w': torch.ones(1)}
    with pytest.raises(ValueError, match="no key of its checkpoint starts with 'decoder.'"):
        compose.compose_state_dict(base, [('decoder.', 'decoders.pose.', {'prompts.w': 1})])
    with pytest.raises(ValueError, match='both write'):
        compose.compose_state_dict(base, [('decoders.', 'decoders.', {
            'decoders.a': 1
        }), ('x.', 'decoders.', {
            'x.a': 2
        })])
    assert compose.parse_part('decoder.:decoders.pose.=p.pth') == ('decoder.', 'decoders.pose.',
                                                                   'p.pth')
    # no source prefix: the keys under the destination, as they are
    assert compose.parse_part('decoders.det.=d.pth') == ('decoders.det.', 'decoders.det.', 'd.pth')
    with pytest.raises(ValueError, match='expected'):
        compose.parse_part('decoders.det.')
