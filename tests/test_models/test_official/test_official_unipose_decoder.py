"""OfficialUniPoseDecoder without the reference: conversion round trips (both alias forms), the
real-size ``unipose.*`` names on the meta device, the pose-group mask, prediction at reduced
width (the denoising training: test_official_unipose_denoising.py)."""
import numpy as np
import pytest
import torch

from mmvisionllm.models.decoders.pose.official import OfficialUniPoseDecoder, ours_to_official
from mmvisionllm.models.decoders.pose.official.official_unipose_convert import alias_groups
from mmvisionllm.models.decoders.pose.official.official_unipose_layers import \
    pose_group_attention_mask
from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample
from .official_layout import prefix_shapes

LLM_WIDTH = 24

SMALL = dict(
    type='OfficialUniPoseDecoder',
    in_channels=LLM_WIDTH,
    backbone=dict(embed_dims=16, depths=(1, 1, 2, 1), num_heads=(1, 1, 2, 2)),
    transformer=dict(
        d_model=32,
        num_queries=20,
        encoder_layers=2,
        decoder_layers=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        encoder_attention_heads=4,
        decoder_attention_heads=4),
    num_body_points=6,
    num_groups=5,
    max_object_slots=4,
    max_keypoint_slots=8,
    norm_groups=8,
    test_topk=3)


def build_small(seed: int) -> OfficialUniPoseDecoder:
    torch.manual_seed(seed)
    decoder = MODELS.build(dict(SMALL))
    with torch.no_grad():  # every tensor random, so that a misplaced one changes the outputs
        for param in decoder.parameters():
            param.normal_(0, 0.2)
    return decoder.eval()


def official_layout(decoder: OfficialUniPoseDecoder, all_aliases: bool) -> dict:
    """Synthetic official state dict (``unipose.`` stripped) built from our tensors."""
    ours = decoder.state_dict()
    dropped = set()
    if not all_aliases:  # save_pretrained keeps the first name of each group only
        for members in alias_groups(list(ours)).values():
            dropped.update(members[1:])
    return ours_to_official({k: v.clone() for k, v in ours.items() if k not in dropped})


def case_inputs(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    pixel_values = torch.randn(1, 3, 64, 96, generator=gen)
    pixel_values[..., 80:] = 0
    valid = torch.ones(1, 64, 96, dtype=torch.bool)
    valid[..., 80:] = False
    obj = torch.randn(1, 4, 4, LLM_WIDTH, generator=gen)
    obj_mask = torch.tensor([[True, False, False, False]])
    kpt = torch.randn(1, 8, 4, LLM_WIDTH, generator=gen)
    kpt_mask = torch.tensor([[True] * 5 + [False] * 3])
    return pixel_values, valid, obj, obj_mask, kpt, kpt_mask


@pytest.mark.parametrize('all_aliases', [True, False])
def test_round_trip_same_outputs(all_aliases):
    source, target = build_small(0), build_small(1)
    official = official_layout(source, all_aliases)
    # the official Swin layout is really different (names and merge-channel order)
    assert 'backbone.0.layers.0.downsample.reduction.weight' in official
    assert 'transformer.encoder.fusion_layers.0.gam_v' in official
    converted = target.convert_official_state_dict(official)
    target.load_state_dict(converted, strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(converted[key], value), key
    with torch.no_grad():
        a = source.forward_official(*case_inputs())
        b = target.forward_official(*case_inputs())
    for key in ('pred_logits', 'pred_boxes', 'pred_keypoints'):
        assert torch.equal(a[key], b[key]), key
    assert a['pred_logits'].shape == (1, 5, 4)
    assert torch.isinf(a['pred_logits'][..., 1:]).all()
    assert a['pred_keypoints'].shape == (1, 5, 18)


def test_unplaced_keys_are_all_listed():
    decoder = build_small(0)
    official = official_layout(decoder, True)
    official['transformer.surprise.weight'] = torch.zeros(1)
    del official['transformer.tgt_embed.weight']
    index_key = 'backbone.0.layers.0.blocks.0.attn.relative_position_index'
    official[index_key] = official[index_key].flip(0)
    with pytest.raises(KeyError) as err:
        decoder.convert_official_state_dict(official)
    text = str(err.value)
    assert 'transformer.surprise.weight' in text
    assert 'transformer.tgt_embed.weight: not provided' in text
    assert 'derived buffer differs' in text


def test_real_size_names_map_fully_on_meta():
    params = prefix_shapes('unipose.')
    assert len(params) == 859
    # mmdet's Swin calls .item() while building, so ours is built on the CPU (a few seconds);
    # the official side is shape-only meta tensors
    decoder = OfficialUniPoseDecoder(in_channels=4096)
    target = decoder.state_dict(keep_vars=True)
    official = {k: torch.empty(shape, device='meta') for k, shape in params.items()}
    converted = decoder.convert_official_state_dict(official)
    assert set(converted) == set(target)
    for key, value in converted.items():
        assert tuple(value.shape) == tuple(target[key].shape), key
    # the save_pretrained form (one name per alias group) maps fully as well
    groups = alias_groups(list(official))
    first_only = {
        k: v
        for k, v in official.items() if not any(k in members[1:] for members in groups.values())
    }
    assert len(first_only) < len(official)
    assert set(decoder.convert_official_state_dict(first_only)) == set(target)


def _official_mask_reference(kpt_valid, num_groups, num_heads):
    """The official construction as a literal loop (the facts it must reproduce)."""
    batch, length = kpt_valid.shape
    k = length - 1
    size = num_groups * length
    mask = torch.zeros(batch, size, size, dtype=torch.bool)
    for row in range(num_groups * k):
        start, end = (row // k) * k, (row // k + 1) * k
        if start > 0:
            mask[:, row, :start] = True
        if end < num_groups * k:
            mask[:, row, end:] = True
    equal = kpt_valid[:, :, None] == kpt_valid[:, None, :]
    for g in range(num_groups):
        block = slice(g * length, (g + 1) * length)
        mask[:, block, block] = ~equal
    return mask.repeat_interleave(num_heads, 0)


def test_pose_group_mask_matches_the_official_construction():
    valid = torch.tensor([[1, 1, 1, 0, 1, 0], [1, 0, 1, 1, 1, 1]])
    ours = pose_group_attention_mask(valid, 4, 3)
    assert torch.equal(ours, _official_mask_reference(valid, 4, 3))
    # groups can see a few queries of their neighbours (68-wide first pass)
    assert not ours[0, 5, 6]


def test_predict_mmpose_format():
    decoder = build_small(0)
    links = torch.randn(1, 6, 4, LLM_WIDTH)
    mask = torch.ones(1, 6, dtype=torch.bool)
    sample = MMDataSample(
        metainfo=dict(
            link_tokens=['[DET]'] + ['[POSE]'] * 5, scale_factor=(0.5, 0.5), ori_shape=(128, 160)))
    image = torch.randint(0, 255, (3, 64, 80), dtype=torch.uint8)
    with torch.no_grad():
        out, = decoder.predict(links, mask, [image], [sample])
    inst = out.pred_instances
    assert inst.keypoints.shape == (3, 5, 2)
    assert inst.keypoint_scores.shape == (3, 5)
    assert inst.bboxes.shape == (3, 4) and (inst.labels == 0).all()
    assert np.all(inst.bboxes[:, 0::2] <= 160) and np.all(inst.bboxes[:, 1::2] <= 128)
    assert np.all(np.diff(inst.scores) <= 0)
    # the denoising queries are training-only: prediction with dn_number > 0 is the same
    with_dn = build_small(0)
    with_dn.dn_number = 100
    with torch.no_grad():
        again, = with_dn.predict(links, mask, [image], [MMDataSample(metainfo=sample.metainfo)])
    assert np.array_equal(again.pred_instances.keypoints, inst.keypoints)
    assert np.array_equal(again.pred_instances.scores, inst.scores)


def _pose_sample():
    from mmengine.structures import InstanceData
    sample = MMDataSample(metainfo=dict(link_tokens=['[DET]'] + ['[POSE]'] * 5))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10., 8., 40., 50.], [44., 20., 70., 60.]]),
        labels=torch.tensor([0, 0]),
        keypoints=torch.rand(2, 5, 2) * 30 + 10,
        keypoints_visible=torch.tensor([[1., 1., 0., 1., 1.], [1., 0., 1., 1., 1.]]))
    return sample


def test_loss_keys_finite_and_gradients():
    decoder = build_small(0).train()
    links = torch.randn(1, 6, 4, LLM_WIDTH, requires_grad=True)
    mask = torch.ones(1, 6, dtype=torch.bool)
    image = torch.randint(0, 255, (3, 64, 80), dtype=torch.uint8)
    losses = decoder.loss(links, mask, [image], [_pose_sample()])
    for key in ('loss_ce', 'loss_bbox', 'loss_giou', 'loss_keypoints', 'loss_oks', 'loss_ce_0',
                'loss_bbox_1', 'loss_keypoints_2', 'loss_ce_interm', 'loss_giou_interm'):
        assert key in losses and torch.isfinite(losses[key]), key
    assert 'loss_keypoints_0' not in losses and 'loss_keypoints_interm' not in losses
    sum(losses.values()).backward()
    assert links.grad.abs().sum() > 0
    assert decoder.projection_kpt_llava.layers[0].weight.grad.abs().sum() > 0


def test_set_losses_known_answer():
    from mmvisionllm.models.decoders.pose.official.official_unipose_loss import (OFFICIAL_POSE_LOSS,
                                                                                 pose_set_losses)
    gt = dict(
        labels=torch.tensor([0]),
        boxes=torch.tensor([[0.5, 0.5, 0.2, 0.4]]),
        keypoints=torch.tensor([[[0.45, 0.4], [0.55, 0.6]]]),
        visible=torch.tensor([[1., 1.]]),
        area=torch.tensor([0.08]))
    boxes = torch.tensor([[[0.1, 0.1, 0.1, 0.1], [0.5, 0.5, 0.2, 0.4]]])
    kpts = torch.tensor([[[[0.1, 0.1], [0.2, 0.2]], [[0.45, 0.4], [0.55, 0.7]]]])
    logits = torch.tensor([[[-3.], [3.]]])
    losses = pose_set_losses(logits, boxes, kpts, torch.tensor([[True]]), [gt], OFFICIAL_POSE_LOSS,
                             torch.tensor([0.025, 0.025]), 1.0)
    # query 1 matches: exact box, one keypoint 0.1 off in y
    assert torch.allclose(losses['loss_bbox'], torch.tensor(0.), atol=1e-6)
    assert torch.allclose(losses['loss_giou'], torch.tensor(0.), atol=1e-6)
    assert torch.allclose(losses['loss_keypoints'], torch.tensor(10 * 0.1), atol=1e-5)
    variance = (2 * 0.025)**2
    oks = (1 + torch.exp(torch.tensor(-0.01 / (0.08 * variance * 2)))) / 2
    assert torch.allclose(losses['loss_oks'], 10 * (1 - oks), atol=1e-5)
    p = torch.sigmoid(torch.tensor([-3., 3.]))
    focal = 0.75 * p[0]**2 * -torch.log(1 - p[0]) + 0.25 * (1 - p[1])**2 * -torch.log(p[1])
    assert torch.allclose(losses['loss_ce'], 2 * focal, atol=1e-6)
