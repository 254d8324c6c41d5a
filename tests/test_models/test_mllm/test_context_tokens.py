"""A decoder may read another group's links in the samples that route to it (``context_tokens``).

The official VisionLLM v2 links the person class of a pose answer through ``[DET]`` and sends
every link of a pose sample to UniPose; here the pose decoder declares ``context_tokens=('[DET]',)``
and the one routing rule (``RoutingTable.link_groups``) sends such a ``[DET]`` link to it, in
teacher forcing and in free-running chat, while a plain detection answer still reaches the detector.
"""
import numpy as np
import pytest
import torch
from chat_helpers import force_tokens, toy_config
from mllm_builders import circle_square_det_sample, make_sample, random_inputs

from mmvisionllm.apis import chat
from mmvisionllm.models.super_link.routing_table import RoutingTable
from mmvisionllm.registry import MODELS


def _table(**overrides):
    groups = dict(det=(('[DET]', '[GRD]'), 4), pose=(('[POSE]', ), 4, ('[DET]', )))
    groups.update(overrides)
    return RoutingTable(groups, routing_vocabulary=('[DET]', '[GRD]', '[POSE]'))


def test_context_link_goes_to_the_reader_only_beside_its_links():
    table = _table()
    assert table.link_groups(['[DET]', '[POSE]', '[POSE]']) == ['pose', 'pose', 'pose']
    assert table.link_groups(['[DET]', '[DET]']) == ['det', 'det']
    assert table.link_groups(['[GRD]', '[POSE]']) == ['det', 'pose']  # [GRD] is no context token


@pytest.mark.parametrize('groups, message', [
    (dict(pose=(('[POSE]', ), 4, ('[CNT]', ))), 'no other group owns'),
    (dict(pose=(('[POSE]', ), 4, ('[POSE]', ))), 'no other group owns'),
    (dict(pose=(('[POSE]', ), 2, ('[DET]', ))), 'has 2 queries per link, group \'det\' 4'),
    (dict(cnt=(('[CNT]', ), 4, ('[DET]', ))), 'claimed by decoder groups \'pose\' and \'cnt\''),
])
def test_inconsistent_context_tokens_are_refused(groups, message):
    with pytest.raises(ValueError, match=message):
        _table(**groups)


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    cfg = toy_config(str(tmp_path_factory.mktemp('tok')))
    cfg.model.decoders['pose'] = dict(
        type='ToyPointLinkDecoder',
        routing_tokens=('[POSE]', ),
        num_queries=4,
        context_tokens=('[DET]', ))
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def _pose_sample():
    return make_sample(
        'pose',
        '<image>\nfind the keypoints of the person .',
        'person [DET] , head [POSE]', ['person', 'head'],
        boxes=[[4, 4, 40, 40]],
        labels=[0],
        keypoints=[[[20, 10]]])


def test_teacher_forced_pose_sample_sends_its_det_link_to_the_pose_decoder(model):
    model.train()
    det, pose = model.decoders['det'], model.decoders['pose']
    det.calls.clear()
    pose.calls.clear()
    batch = dict(inputs=random_inputs(2), data_samples=[circle_square_det_sample(), _pose_sample()])
    losses = model.loss(*model.data_preprocessor(batch, training=True).values())
    assert 'loss_pose_box' in losses and 'loss_det_box' in losses
    assert [c['link_tokens'] for c in det.calls] == [[['[DET]', '[DET]']]]
    assert [c['link_tokens'] for c in pose.calls] == [[['[DET]', '[POSE]']]]
    assert pose.calls[0]['shape'][:3] == (1, 2, 4)


def test_chat_routes_the_det_link_of_a_pose_answer_to_the_pose_decoder(model):
    image = np.random.RandomState(0).randint(0, 256, (40, 50, 3), dtype=np.uint8)
    handle = force_tokens(model, ['person', '[DET]', 'head', '[POSE]', '</s>'])
    try:
        reply = chat(model, image, 'find the keypoints of the person .')[0]
    finally:
        handle.remove()
    assert [(link.routing_token, link.group, link.target_index) for link in reply.links] == \
        [('[DET]', 'pose', 0), ('[POSE]', 'pose', 1)]
    assert set(reply.decoder_outputs) == {'pose'}
    assert reply.decoder_outputs['pose'].metainfo['link_tokens'] == ['[DET]', '[POSE]']
    handle = force_tokens(model, ['circle', '[DET]', '</s>'])  # no [POSE]: the detector's
    try:
        reply = chat(model, image, 'detect all objects .')[0]
    finally:
        handle.remove()
    assert [link.group for link in reply.links] == ['det'] and set(reply.decoder_outputs) == {'det'}
