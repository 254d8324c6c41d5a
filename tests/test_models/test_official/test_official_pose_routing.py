"""An official pose answer in free-running chat reaches UniPose whole: the person class linked
through ``[DET]`` and the keypoints through ``[POSE]`` go to the pose decoder (its
``context_tokens``), the detector is not called, as the official model sends every link of a
pose sample to UniPose. The reduced official model (LLM 128 wide, GDINO and UniPose at real
size, random weights)."""
import numpy as np
import pytest
import torch
from chat_helpers import force_tokens

from mmvisionllm.apis import chat
from mmvisionllm.testing.official_parity import build_reference_small_model


@pytest.fixture(scope='module')
def model(vicuna_tokenizer_dir):
    torch.manual_seed(0)
    model = build_reference_small_model(vicuna_tokenizer_dir, parts=('det', 'pose'))
    model.init_weights()
    return model.eval()


def _reply(model, tokens):
    # 256 px: at least the 900 feature tokens the two-stage top-k of the decoders takes
    image = np.random.RandomState(0).randint(0, 256, (256, 256, 3), dtype=np.uint8)
    handle = force_tokens(model, tokens)
    try:
        return chat(model, image, 'piece100 piece200')[0]
    finally:
        handle.remove()


def test_pose_answer_goes_to_unipose_with_its_person_link(model):
    assert model.decoders['pose'].context_tokens == ('[DET]', )
    reply = _reply(model, ['piece300', '[DET]', 'piece301', '[POSE]', 'piece302', '[POSE]', '</s>'])
    assert [(link.routing_token, link.group) for link in reply.links] == \
        [('[DET]', 'pose'), ('[POSE]', 'pose'), ('[POSE]', 'pose')]
    assert set(reply.decoder_outputs) == {'pose'}
    pose = reply.decoder_outputs['pose']
    assert 'decoder_error' not in pose.metainfo
    assert pose.metainfo['link_tokens'] == ['[DET]', '[POSE]', '[POSE]']
    keypoints = pose.pred_instances.keypoints  # mmpose's bottom-up layout [n, K, 2]
    assert keypoints.ndim == 3 and keypoints.shape[0] > 0 and np.isfinite(keypoints).all()


def test_detection_answer_still_goes_to_grounding_dino(model):
    reply = _reply(model, ['piece300', '[DET]', 'piece301', '[DET]', '</s>'])
    assert [link.group for link in reply.links] == ['det', 'det']
    assert set(reply.decoder_outputs) == {'det'}
    assert len(reply.decoder_outputs['det'].pred_instances.bboxes) > 0


def test_too_small_a_view_for_the_two_stage_selection_is_a_clear_error(model):
    """60 x 80 px give fewer encoder positions than the 900 queries both decoders keep."""
    image = np.random.RandomState(0).randint(0, 256, (60, 80, 3), dtype=np.uint8)
    for tokens in (['piece300', '[DET]', 'piece301', '[POSE]',
                    '</s>'], ['piece300', '[DET]', '</s>']):
        handle = force_tokens(model, tokens)
        try:
            with pytest.raises(ValueError, match='fewer than the 900'):
                chat(model, image, 'piece100 piece200')
        finally:
            handle.remove()
