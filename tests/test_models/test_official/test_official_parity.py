"""Numerical parity of the core against the official reference (cases A and B, fp32 eval).

Needs the reference folder written by the official-code tool: set ``VLV2_REFERENCE_DIR`` (e.g.
/work/vlv2_ref/reference). Tolerance 1e-4 max abs on the LLM logits and last hidden states; every
other core row is held to the same bound.
"""
import pytest

from mmvisionllm.testing.official_parity import REFERENCE_ENV, reference_dir

REFERENCE = reference_dir()
needs_reference = pytest.mark.skipif(
    REFERENCE is None,
    reason=f'official parity reference not available: set {REFERENCE_ENV} to a folder with '
    'model.safetensors, config.json, inputs.npz, outputs.npz')


@pytest.fixture(scope='module')
def rows():
    from mmvisionllm.testing.official_parity.core import core_parity
    return {name: (diff, note) for name, diff, note in core_parity(REFERENCE)}


@needs_reference
@pytest.mark.parametrize('name', [
    'A llm_logits', 'A llm_hidden_states[-1] (final norm)', 'B gen_logits_last8',
    'B gen_hidden_last'
])
def test_llm_outputs_match(rows, name):
    assert rows[name][0] <= 1e-4, rows[name]


@needs_reference
def test_every_core_row_matches(rows):
    assert len(rows) >= 15
    # preprocessing depends on the Pillow version (its row's note); the model rows may not
    worst = {
        name: diff
        for name, (diff, _) in rows.items() if not diff <= 1e-4 and 'preprocessing' not in name
    }
    assert not worst, worst


def test_parity_tool_finds_the_parts_and_needs_a_reference(tmp_path, capsys):
    from tool_loader import load_tool
    tool = load_tool('analysis_tools/official_parity.py')
    assert 'core' in tool.find_parity_functions()
    assert tool.main(['--reference', str(tmp_path)]) == 2
    table = tool.format_table([('core', 'A llm_logits', 2e-6, 'LLM'),
                               ('gdino', 'C gdino_logits', 3e-2, 'aligned')], 1e-4)
    assert 'A llm_logits' in table and '2.000e-06' in table
    assert table.count('[> tolerance]') == 1
