"""Parity of OfficialRegionEncoder and the official-compatible SD / IP2P mappers with the official
reference (``$VLV2_REFERENCE_DIR``; see tools/analysis_tools/official_parity.py)."""
import pytest

from mmvisionllm.testing.official_parity import REFERENCE_ENV, reference_dir

REFERENCE = reference_dir()
pytestmark = pytest.mark.skipif(
    REFERENCE is None,
    reason=f'{REFERENCE_ENV} is unset or lacks the official reference files '
    '(model.safetensors, config.json, inputs.npz, outputs.npz)')
TOLERANCE = 1e-4


def _check(rows):
    assert rows
    for name, diff, note in rows:
        assert diff <= TOLERANCE, f'{name}: max |diff| {diff:.3g} > {TOLERANCE} ({note})'


def test_region_encoder_parity():
    from mmvisionllm.testing.official_parity.region_encoder_parity import region_encoder_parity
    _check(region_encoder_parity(REFERENCE))


def test_generation_mapper_parity():
    from mmvisionllm.testing.official_parity.generation_parity import generation_parity
    rows = generation_parity(REFERENCE)
    assert {r[0] for r in rows} == {'E sd_cond', 'A llm_sd_cond', 'E ip2p_cond', 'A llm_ip2p_cond'}
    _check(rows)
