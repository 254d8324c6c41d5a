"""OfficialGroundingDinoDecoder without the reference: conversion round trips, real-size key
coverage on the meta device, prediction and loss at reduced width."""

import pytest
import torch
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

from mmvisionllm.models.decoders import BaseLinkDecoder
from mmvisionllm.models.decoders.detection.official import (OfficialGroundingDinoDecoder,
                                                            official_to_ours_key,
                                                            ours_to_official_key)
from mmvisionllm.models.decoders.detection.official.official_gdino_convert import alias_groups
from mmvisionllm.models.decoders.detection.official.official_gdino_denoising import \
    build_denoising_queries
from mmvisionllm.models.decoders.detection.official.official_gdino_layers import heads_first_mask
from mmvisionllm.models.decoders.detection.official.official_gdino_mask_loss import \
    point_mask_losses
from mmvisionllm.models.decoders.detection.official.official_gdino_transformer import \
    text_masks_from_valid
from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample
from .official_layout import prefix_aliases, prefix_shapes

LLM_WIDTH = 24

SMALL = dict(
    type='OfficialGroundingDinoDecoder',
    in_channels=LLM_WIDTH,
    backbone=dict(embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2], window_size=7),
    transformer=dict(
        d_model=32,
        num_queries=20,
        encoder_layers=2,
        decoder_layers=3,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        max_text_len=16),
    mask_dim=32,
    test_topk=10,
    dn_number=0)


def build_small(seed: int) -> OfficialGroundingDinoDecoder:
    torch.manual_seed(seed)
    decoder = MODELS.build(dict(SMALL))
    # every tensor random, so that a misplaced one changes the outputs
    with torch.no_grad():
        for param in decoder.parameters():
            param.normal_(0, 0.2)
    return decoder.eval()


def official_layout(decoder: OfficialGroundingDinoDecoder, all_aliases: bool) -> dict:
    """Synthetic official state dict (``gdino.`` stripped) built from our names."""
    ours = decoder.state_dict()
    official = {ours_to_official_key(k): v.clone() for k, v in ours.items()}
    if not all_aliases:  # save_pretrained keeps the first name of each group only
        for members in alias_groups(list(ours)).values():
            for name in members[1:]:
                del official[ours_to_official_key(name)]
    for name, buf in decoder.named_buffers():
        if name.endswith('relative_position_index') and name not in ours:
            side = int(round(buf.numel()**0.5))
            official[ours_to_official_key(name)] = buf.reshape(side, side).clone()
    return official


def inputs(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    pixel_values = torch.randn(1, 3, 64, 96, generator=gen)
    pixel_values[..., 80:] = 0
    pixel_mask = torch.ones(1, 64, 96, dtype=torch.bool)
    pixel_mask[..., 80:] = False
    links = torch.randn(1, 3, 4, LLM_WIDTH, generator=gen)
    return pixel_values, pixel_mask, links, torch.tensor([[True, True, False]])


def test_text_masks_and_head_order_known_answers():
    allowed, position_ids = text_masks_from_valid(torch.tensor([[True, True, False, False]]))
    expected = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]).bool()
    assert torch.equal(allowed[0], expected)
    assert position_ids.tolist() == [[0, 1, 0, 0]]
    masks = torch.arange(2)[:, None, None].expand(2, 1, 1)
    assert heads_first_mask(masks, 3).flatten().tolist() == [0, 0, 0, 1, 1, 1]


def test_swin_key_renames_are_inverse():
    official = ('model.backbone.conv_encoder.model.encoder.layers.2.blocks.4.attention.self.query.'
                'weight')
    ours = official_to_ours_key(official)
    assert ours == ('model.backbone.conv_encoder.model.swin.encoder.layers.2.blocks.4.attention.'
                    'q_proj.weight')
    assert ours_to_official_key(ours) == official
    for key in ('model.backbone.conv_encoder.model.encoder.layers.0.blocks.1.output.dense.bias',
                'model.backbone.conv_encoder.model.encoder.layers.0.downsample.reduction.weight',
                'model.backbone.conv_encoder.model.hidden_states_norms.stage1.weight',
                'model.decoder.layers.0.self_attn.in_proj_weight'):
        assert ours_to_official_key(official_to_ours_key(key)) == key


@pytest.mark.parametrize('all_aliases', [True, False])
def test_reduced_width_official_layout_round_trip(all_aliases):
    source = build_small(seed=1)
    official = official_layout(source, all_aliases)
    target = build_small(seed=2)
    converted = target.convert_official_state_dict(official)
    result = target.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # shared heads stay shared after loading
    assert target.bbox_embed[0] is target.model.decoder.bbox_embed[2]
    pixel_values, pixel_mask, links, valid = inputs()
    with torch.no_grad():
        want = source.forward_official(pixel_values, pixel_mask, links, valid)
        got = target.forward_official(pixel_values, pixel_mask, links, valid)
    for key in ('logits', 'pred_boxes', 'pred_masks'):
        assert torch.equal(want[key], got[key]), key
    assert torch.isinf(got['logits'][..., 2:]).all()


def test_conversion_lists_every_key_it_cannot_place():
    decoder = build_small(seed=1)
    official = official_layout(decoder, all_aliases=True)
    official['model.unknown.weight'] = torch.zeros(1)
    official['text_projection.weight'] = torch.zeros(1)
    del official['model.enc_output.bias']
    official['bbox_embed.1.layers.0.bias'] = official['bbox_embed.1.layers.0.bias'] + 1
    with pytest.raises(KeyError) as err:
        decoder.convert_official_state_dict(official)
    message = str(err.value)
    for piece in ('model.unknown.weight', 'text_projection.weight', 'model.enc_output.bias',
                  'bbox_embed.1.layers.0.bias: alias'):
        assert piece in message


def test_real_size_names_are_all_mapped_on_meta():
    official = {
        key:
        torch.empty(
            shape,
            device='meta',
            dtype=torch.int64 if key.endswith('relative_position_index') else torch.float32)
        for key, shape in prefix_shapes('gdino.').items()
    }
    assert len(official) == 843
    with torch.device('meta'):
        decoder = OfficialGroundingDinoDecoder(in_channels=4096)
    converted = decoder.convert_official_state_dict(official)
    ours = decoder.state_dict()
    assert set(converted) == set(ours)
    assert all(tuple(converted[k].shape) == tuple(ours[k].shape) for k in ours)
    # the save_pretrained form (first name of each alias group only) maps too
    for group in prefix_aliases('gdino.'):
        for name in group[1:]:
            official.pop(name[len('gdino.'):])
    assert set(decoder.convert_official_state_dict(official)) == set(ours)


def _sample(token: str, with_gt: bool) -> MMDataSample:
    sample = MMDataSample(
        metainfo=dict(
            img_id=0,
            ori_shape=(96, 120),
            img_shape=(64, 80),
            scale_factor=(80 / 120, 64 / 96),
            task='seg' if token == '[SEG]' else 'det',
            link_tokens=[token, token]))
    if with_gt:
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[4., 6., 40., 50.], [30., 10., 70., 60.]]),
            labels=torch.tensor([0, 1]))
    return sample


def _images():
    gen = torch.Generator().manual_seed(3)
    return [torch.randint(0, 256, (3, 64, 80), generator=gen, dtype=torch.uint8)]


def test_plugin_predict_boxes_and_masks():
    decoder = build_small(seed=1)
    assert isinstance(decoder, BaseLinkDecoder)
    links = torch.randn(1, 2, 4, LLM_WIDTH)
    valid = torch.ones(1, 2, dtype=torch.bool)
    with torch.no_grad():
        det, = decoder.predict(links, valid, _images(), [_sample('[DET]', False)])
        seg, = decoder.predict(links, valid, _images(), [_sample('[SEG]', False)])
    pred = det.pred_instances
    assert len(pred) == 10 and 'masks' not in pred
    assert pred.labels.max() < 2 and (pred.scores[:-1] >= pred.scores[1:]).all()
    assert (pred.bboxes[:, 0::2] <= 120).all() and (pred.bboxes[:, 1::2] <= 96).all()
    assert seg.pred_instances.masks.shape == (10, 96, 120)
    assert torch.equal(seg.pred_instances.bboxes, pred.bboxes)


def test_denoising_queries_known_structure():
    class_features = torch.randn(2, 3, 8)
    labels = [torch.tensor([2, 0]), torch.tensor([1])]
    boxes = [
        torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.3, 0.6, 0.1, 0.1]]),
        torch.tensor([[.4, .4, .2, .2]])
    ]
    dn = build_denoising_queries(
        labels, boxes, class_features, 5, dn_number=5, label_noise_ratio=0, box_noise_scale=0)
    # 2 gt at most -> groups of 4 (2 positive, 2 negative), 5 * 2 // 4 = 2 groups
    assert dn['num_groups'] == 2 and dn['group_size'] == 4
    assert dn['dn_queries'].shape == (2, 8, 8) and dn['dn_boxes'].shape == (2, 8, 4)
    for g in range(2):
        for polarity in range(2):
            slot = g * 4 + polarity * 2
            assert torch.equal(dn['dn_queries'][0, slot], class_features[0, 2])
            assert torch.equal(dn['dn_queries'][0, slot + 1], class_features[0, 0])
            assert torch.equal(dn['dn_queries'][1, slot], class_features[1, 1])
            assert not dn['dn_queries'][1, slot + 1].any()  # padding of the smaller sample
            assert torch.allclose(dn['dn_boxes'][0, slot].sigmoid(), boxes[0][0], atol=1e-6)
    mask = dn['dn_attn_mask']
    assert mask.shape == (13, 13)
    assert mask[8:, :8].all() and not mask[8:, 8:].any() and not mask[:8, 8:].any()
    assert not mask[:4, :4].any() and mask[:4, 4:8].all() and mask[4:8, :4].all()
    assert build_denoising_queries([torch.zeros(0, dtype=torch.long)], [torch.zeros(0, 4)],
                                   class_features[:1], 5) is None
    # one ground truth, 50 groups: positives move each corner by at most half the box size,
    # negatives by half to one (corners may cross: the width then clamps to ~0, as official)
    gt = torch.tensor([[0.5, 0.5, 0.2, 0.2]])
    noisy = build_denoising_queries([torch.tensor([0])], [gt],
                                    class_features[:1],
                                    5,
                                    dn_number=50,
                                    generator=torch.Generator().manual_seed(0))
    assert noisy['num_groups'] == 50 and noisy['group_size'] == 2
    copies = noisy['dn_boxes'][0].sigmoid()

    def corners(box):
        return torch.cat([box[:, :2] - box[:, 2:] / 2, box[:, :2] + box[:, 2:] / 2], 1)

    shift = (corners(copies) - corners(gt)).abs()
    positive, negative = shift[0::2], shift[1::2]
    assert (positive <= 0.1 + 1e-5).all()
    uncrossed = (copies[1::2, 2:] > 1e-3).all(1)
    assert uncrossed.sum() > 10
    assert (negative[uncrossed] >= 0.1 - 1e-5).all() and (negative <= 0.2 + 1e-5).all()


def test_loss_terms_with_denoising_and_masks():
    decoder = build_small(seed=1).train()
    decoder.dn_number = 10
    links = torch.randn(1, 2, 4, LLM_WIDTH, requires_grad=True)
    valid = torch.ones(1, 2, dtype=torch.bool)
    losses = decoder.loss(links, valid, _images(), [_sample('[DET]', True)])
    assert {
        'loss_ce', 'loss_bbox', 'loss_giou', 'd0.loss_ce', 'd1.loss_giou', 'enc_loss_bbox',
        'dn_loss_ce', 'd0.dn_loss_bbox', 'd1.dn_loss_giou'
    } <= set(losses)
    assert len(losses) == 3 * 3 * 2 + 3
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert links.grad is not None and links.grad.abs().sum() > 0
    decoder.dn_number = 0
    assert not any('dn_' in key
                   for key in decoder.loss(links, valid, _images(), [_sample('[DET]', True)]))
    seg = _sample('[SEG]', True)
    masks = torch.zeros(2, 64, 80, dtype=torch.bool)
    masks[0, 6:50, 4:40] = True
    masks[1, 10:60, 30:70] = True
    seg.gt_instances.masks = BitmapMasks(masks.numpy(), 64, 80)
    decoder.zero_grad()
    losses = decoder.loss(links, valid, _images(), [seg])
    assert {'loss_mask', 'loss_dice', 'd0.loss_dice', 'enc_loss_mask'} <= set(losses)
    assert len(losses) == 5 * 3 + 5
    sum(losses.values()).backward()
    assert decoder.mask_embed[0].layers[0].weight.grad.abs().sum() > 0
    assert decoder.model.mask_embed.layers[0].weight.grad.abs().sum() > 0  # encoder-stage masks


def test_point_mask_losses_known_answers():
    indices = [(torch.tensor([0]), torch.tensor([0]))]
    # a full target and constant logits +-20, uniform points (grid_sample's zero padding only
    # touches the half-pixel border band): BCE ~0 / ~20 per point, dice ~0 / ~1
    full = torch.ones(1, 256, 256)
    right = torch.full((1, 1, 64, 64), 20.)
    bce, dice = point_mask_losses(right, [full], indices, 1.0, 4096, importance_sample_ratio=0)
    assert bce < 0.2 and dice < 0.02
    bce, dice = point_mask_losses(-right, [full], indices, 2.0, 4096, importance_sample_ratio=0)
    assert 9.5 < bce <= 10.0 and 0.45 < dice <= 0.5  # normalised by 2 masks
    # a square: the right logits beat the wrong ones (boundary points stay uncertain)
    target = torch.zeros(1, 32, 32)
    target[0, 8:24, 8:24] = 1
    right = (target * 40 - 20)[None]
    assert point_mask_losses(right, [target], indices, 1.0)[1] < \
        point_mask_losses(-right, [target], indices, 1.0)[1]
    bce, dice = point_mask_losses(right, [None], indices, 1.0)
    assert bce == 0 and dice == 0
