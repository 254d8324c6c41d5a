"""Chat API: an inferencer built from a config + checkpoint answers with text + decoder outputs."""

import numpy as np
import pytest
import torch
from chat_helpers import force_tokens, toy_config
from mmengine.runner import save_checkpoint

from mmvisionllm.apis import VisionLLMInferencer, chat


@pytest.fixture(scope='module')
def model_cfg(tmp_path_factory):
    return toy_config(str(tmp_path_factory.mktemp('tok')))


_force = force_tokens


def test_inferencer_loads_checkpoint_and_routes(model_cfg, tmp_path):
    torch.manual_seed(0)
    first = VisionLLMInferencer(model_cfg)
    checkpoint = str(tmp_path / 'model.pth')
    save_checkpoint(dict(state_dict=first.model.state_dict()), checkpoint)
    torch.manual_seed(1)
    inferencer = VisionLLMInferencer(model_cfg, checkpoint=checkpoint)
    torch.testing.assert_close(inferencer.model.super_link.query_tables['det'].weight,
                               first.model.super_link.query_tables['det'].weight)

    image = np.random.RandomState(0).randint(0, 256, (40, 50, 3), dtype=np.uint8)
    handle = _force(
        inferencer.model,
        ['circle', '[DET]', ',', 'square', '[DET]', 'person', '[POSE]', 'head', '[POSE]', '</s>'])
    try:
        replies = inferencer.chat(image, 'detect all objects and the person .')
    finally:
        handle.remove()
    reply = replies[0]
    assert reply.text == 'circle [DET], square [DET] person [POSE] head [POSE]'
    emitted = [(link.routing_token, link.group, link.target_name, link.target_index)
               for link in reply.links]
    assert emitted == [('[DET]', 'det', 'circle', 0), ('[DET]', 'det', 'square', 1),
                       ('[POSE]', 'pose', 'person', 0), ('[POSE]', 'pose', 'head', 1)]
    det, pose = reply.decoder_outputs['det'], reply.decoder_outputs['pose']
    assert det is not pose  # one sample per group
    assert det.pred_instances.bboxes.shape == (2, 4) and pose.pred_instances.bboxes.shape == (2, 4)
    assert det.metainfo['target_names'] == ['circle', 'square']
    assert pose.metainfo['link_tokens'] == ['[POSE]', '[POSE]']
    square = reply.links[1].prediction
    assert len(square) == 1 and square.labels.tolist() == [1]
    torch.testing.assert_close(square.bboxes[0], det.pred_instances.bboxes[1])
    assert float(det.pred_instances.bboxes[:, 2].max()) <= 50  # original-image coordinates


def test_chat_without_image_and_without_routing(model_cfg):
    torch.manual_seed(0)
    model = VisionLLMInferencer(model_cfg).model
    replies = chat(model, None, ['what is a circle ?', 'and a square ?'])
    assert len(replies) == 2 and all(isinstance(r.text, str) and not r.links for r in replies)
    handle = _force(model, ['circle', '[DET]', '</s>'])
    try:
        with pytest.raises(ValueError, match='needs an image'):
            chat(model, None, 'detect all objects .')
    finally:
        handle.remove()


def test_chat_reports_targets_the_decoder_cannot_read(model_cfg):
    """A free-running answer may emit targets a decoder cannot use; the reply says why (no crash,
    no prediction for that group) and the other groups are still decoded."""
    torch.manual_seed(0)
    model = VisionLLMInferencer(model_cfg).model
    model.decoders['pose'].emitted_targets_error = (
        lambda tokens: None if len(tokens) > 1 else 'needs keypoint targets')
    image = np.random.RandomState(0).randint(0, 256, (40, 50, 3), dtype=np.uint8)
    handle = _force(model, ['circle', '[DET]', 'person', '[POSE]', '</s>'])
    try:
        reply = chat(model, image, 'detect all objects and the person .')[0]
    finally:
        handle.remove()
    det_link, pose_link = reply.links
    assert (pose_link.routing_token, pose_link.error,
            pose_link.prediction) == ('[POSE]', 'needs keypoint targets', None)
    pose = reply.decoder_outputs['pose']
    assert pose.metainfo['decoder_error'] == 'needs keypoint targets'
    assert 'pred_instances' not in pose
    assert det_link.error is None and det_link.prediction.bboxes.shape == (1, 4)
