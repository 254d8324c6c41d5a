"""Cases D and G (UniPose half) of the official reference: OfficialUniPoseDecoder vs
``model.unipose`` (UniPose-T at real size, projections from the reference LLM width). Skipped
without ``VLV2_REFERENCE_DIR``; one forward takes 25-45 s on one thread, so the tests are slow.

Measured with 1 thread: teacher-forced (``unipose_enc_topk_index`` and
``unipose_group_topk_index``) pred_logits 1.2e-4, pred_boxes 1.2e-6, pred_keypoints 5.7e-6, decoder
hidden <= 4.2e-5; case G from the reference link states logits 7.7e-5, boxes 1.0e-6, keypoints
2.6e-6. Free: 4 of 900 box queries and 4 of 50 pose groups swap in the near-tied top-k; the pose
groups that still agree differ by up to 0.9 in logits because groups attend to a few queries of
their neighbours (official mask) and to the swapped ones — so the free run is only checked for
the selections and the elementwise encoder outputs.
"""
import os

import pytest

from mmvisionllm.testing.official_parity.reference import REFERENCE_ENV
from mmvisionllm.testing.official_parity.unipose import (build_reference_unipose, unipose_case_d,
                                                         unipose_case_g_links)

REFERENCE = os.environ.get(REFERENCE_ENV)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not REFERENCE or not os.path.isfile(os.path.join(REFERENCE, 'outputs.npz')),
        reason=f'{REFERENCE_ENV} is unset or has no official reference outputs')
]

ELEMENTWISE = {
    'unipose_projection_kpt': 1e-5,
    'unipose_projection_obj': 1e-5,
    'unipose_enc_memory': 1e-4,
    'unipose_enc_memory_text': 1e-4,
}
FORCED = {
    'pred_logits': 2e-3,
    'pred_boxes': 1e-4,
    'pred_keypoints': 1e-4,
    'enc_topk_score': 1e-3,
    'group_topk_score': 1e-3,
    'hs_enc': 1e-4,
    'ref_enc': 1e-5,
    'dec_hidden': 1e-3,
    'dec_reference': 1e-4,
}


def _bound(name: str) -> float:
    base = name.split('[')[0]
    for prefix in ('e2e_pose_unipose_', 'unipose_'):
        if base.startswith(prefix):
            base = base[len(prefix):]
            break
    for key, bound in FORCED.items():
        if base.startswith(key):
            return bound
    raise KeyError(name)


@pytest.fixture(scope='module')
def decoder():
    return build_reference_unipose(REFERENCE)


def test_case_d(decoder):
    rows = {name: diff for name, diff, _ in unipose_case_d(REFERENCE, decoder=decoder)}
    for name, bound in ELEMENTWISE.items():
        assert rows[name] <= bound, (name, rows[name])
    assert rows['unipose_enc_topk_index[teacher-forced] swapped'] == 0
    assert rows['unipose_group_topk_index[teacher-forced] swapped'] == 0
    for name, diff in rows.items():
        if name.endswith('[teacher-forced]'):
            assert diff <= _bound(name), (name, diff)
    # free run: the near-tied selections swap only a few queries / groups
    assert rows['unipose_enc_topk_index[free] swapped'] <= 20
    assert rows['unipose_group_topk_index[free] swapped'] <= 10


def test_case_g_links(decoder):
    for name, diff, _ in unipose_case_g_links(REFERENCE, decoder=decoder):
        if name.endswith('swapped'):
            assert diff == 0, name
        else:
            assert diff <= _bound(name), (name, diff)
