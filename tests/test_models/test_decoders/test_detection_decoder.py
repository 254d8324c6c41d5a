"""LinkGroundingDINODecoder ([DET]/[SEG]/[GRD]) on its own, with link embeddings given directly."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric, RefExpMetric
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData
from test_detection_scenes import (CLASSES, det_sample, grd_sample, render_scenes, write_coco_json,
                                   write_refexp_json)

from mmvisionllm.models.decoders import BaseLinkDecoder
from mmvisionllm.models.decoders.detection import LinkGroundingDINODecoder
from mmvisionllm.registry import MODELS

HERE = osp.dirname(osp.abspath(__file__))

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))
DET_TINY = osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'decoders', 'det_tiny.py')
LLM_WIDTH = 32
NUM_LINK_QUERIES = 4


def build_decoder(in_channels: int = LLM_WIDTH) -> LinkGroundingDINODecoder:
    cfg = copy.deepcopy(Config.fromfile(DET_TINY).det_decoder)
    cfg.in_channels = in_channels
    decoder = MODELS.build(cfg)
    decoder.init_weights()
    return decoder


@pytest.fixture(scope='module')
def decoder():
    torch.manual_seed(0)
    return build_decoder()


@pytest.fixture(scope='module')
def scenes():
    return render_scenes(4, size=64, seed=1)


def link_inputs(num_samples: int, num_targets: int, valid=None, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    embeds = torch.randn(num_samples, num_targets, NUM_LINK_QUERIES, LLM_WIDTH, generator=gen)
    mask = torch.ones(num_samples, num_targets, dtype=torch.bool)
    for row, count in enumerate(valid or []):
        mask[row, count:] = False
    return embeds.requires_grad_(), mask


def test_plugin_contract(decoder):
    assert isinstance(decoder, BaseLinkDecoder)
    assert decoder.routing_tokens == ('[DET]', '[SEG]', '[GRD]')
    assert decoder.num_queries == NUM_LINK_QUERIES and decoder.in_channels == LLM_WIDTH
    # BERT is gone; the link projection takes its place
    names = [name for name, _ in decoder.named_parameters()]
    assert not any('language_model' in n or 'text_feat_map' in n for n in names)
    assert decoder.link_proj.layers[0].in_features == LLM_WIDTH
    assert decoder.link_proj.layers[-1].out_features == 256
    num_params = sum(p.numel() for p in decoder.parameters())
    assert 3e6 < num_params < 12e6


def test_emitted_targets_beyond_the_head_text_length_are_reported(decoder):
    """A chat answer emitting more [DET] targets than the head reads is not decoded."""
    max_targets = decoder.detector.bbox_head.max_text_len
    assert decoder.emitted_targets_error(['[DET]'] * max_targets) is None
    error = decoder.emitted_targets_error(['[DET]'] * (max_targets + 1))
    assert f'reads at most {max_targets} targets' in error


def test_text_dict_stands_in_for_bert(decoder):
    embeds, mask = link_inputs(2, 3, valid=[3, 1])
    text = decoder.text_dict(embeds, mask)
    assert text['embedded'].shape == (2, 3, 256)
    assert torch.equal(text['text_token_mask'], mask)
    assert text['position_ids'].shape == (2, 3) and not text['position_ids'].any()
    assert torch.equal(text['masks'][0], torch.eye(3, dtype=torch.bool))
    # MLP per query, then the mean over the N queries of each target
    expected = decoder.link_proj(embeds).mean(dim=2)
    assert torch.allclose(text['embedded'], expected)


def test_link_norm_removes_the_shared_component_of_the_real_targets():
    """With ``link_norm_cfg`` the real targets' features are batch-normalised: a component that
    every target shares (one large direction of a small LLM's query states) is gone, and padding
    neither enters the statistics nor gets a feature."""
    torch.manual_seed(0)
    cfg = copy.deepcopy(Config.fromfile(DET_TINY).det_decoder)
    cfg.update(in_channels=LLM_WIDTH, link_norm_cfg=dict(type='BN1d'))
    decoder = MODELS.build(cfg)
    decoder.init_weights()
    embeds, mask = link_inputs(4, 3, valid=[3, 1, 2, 3])
    shared = torch.randn(LLM_WIDTH) * 50
    with torch.no_grad():
        plain = build_decoder().text_dict(embeds + shared, mask)['embedded']
        decoder.train()
        text = decoder.text_dict(embeds + shared, mask)
        padded_embeds = (embeds + shared).clone()
        padded_embeds[~mask] = 1e4  # padding must not move the statistics
        again = decoder.text_dict(padded_embeds, mask)['embedded']
    real = text['embedded'][mask]
    plain_real = plain[mask]
    assert plain_real.mean(0).norm() > 2 * plain_real.std(0).mean()  # the shared part dominates
    assert real.mean(0).abs().max() < 1e-4 and torch.allclose(
        real.std(0, unbiased=False), torch.ones(256), atol=1e-2)
    assert torch.equal(text['embedded'][~mask], torch.zeros_like(text['embedded'][~mask]))
    assert torch.allclose(again[mask], real, atol=1e-5)
    assert decoder.link_norm.running_mean.abs().sum() > 0
    # a training batch with a single target uses the running statistics instead of failing
    one_embeds, one_mask = link_inputs(1, 1)
    single = decoder.text_dict(one_embeds, one_mask)['embedded']
    assert decoder.training and torch.isfinite(single).all()
    decoder.eval()
    assert torch.allclose(decoder.text_dict(one_embeds, one_mask)['embedded'], single)


def test_loss_on_mixed_det_seg_grd_batch(decoder, scenes):
    decoder.train()
    samples = [
        det_sample(scenes[0], 0, '[DET]'),
        det_sample(scenes[1], 1, '[SEG]'),
        grd_sample(scenes[2], 0, 2)
    ]
    images = [scenes[i]['image'] for i in range(3)]
    embeds, mask = link_inputs(3, len(CLASSES), valid=[3, 3, 1])
    losses = decoder.loss(embeds, mask, images, samples)
    for key in ('loss_cls', 'loss_bbox', 'loss_iou', 'loss_mask', 'loss_dice', 'd0.loss_cls',
                'd0.loss_mask', 'enc_loss_cls', 'dn_loss_bbox'):
        assert key in losses, key
    assert all(torch.isfinite(v).all() for v in losses.values())
    total = sum(losses.values())
    decoder.zero_grad()
    total.backward()
    assert embeds.grad is not None and embeds.grad[:, :, :, :].abs().sum() > 0
    # padded targets get no gradient: they are masked out everywhere
    assert embeds.grad[2, 1:].abs().sum() == 0
    assert decoder.detector.backbone.conv1.weight.grad.abs().sum() > 0
    assert decoder.detector.bbox_head.mask_head.lateral_conv.conv.weight.grad.abs().sum() > 0
    # the core's samples keep their own gt (the decoder works on copies)
    assert 'positive_maps' not in samples[0].gt_instances


def test_no_mask_loss_without_seg_samples(decoder, scenes):
    decoder.train()
    samples = [det_sample(scenes[i], i, '[DET]') for i in range(2)]
    embeds, mask = link_inputs(2, len(CLASSES))
    losses = decoder.loss(embeds, mask, [s['image'] for s in scenes[:2]], samples)
    assert 'loss_mask' not in losses and 'loss_cls' in losses


def test_loss_with_empty_gt_and_mixed_image_sizes(decoder, scenes):
    """A [SEG] sample without objects next to a larger [SEG] view: masks padded per batch."""
    decoder.train()
    big = render_scenes(1, size=96, seed=4)[0]
    empty = det_sample(scenes[0], 0, '[SEG]')
    empty.gt_instances = InstanceData(
        bboxes=torch.zeros(0, 4),
        labels=torch.zeros(0, dtype=torch.long),
        masks=BitmapMasks(np.zeros((0, 64, 64), dtype=np.uint8), 64, 64))
    embeds, mask = link_inputs(2, len(CLASSES))
    losses = decoder.loss(embeds, mask, [scenes[0]['image'], big['image']],
                          [empty, det_sample(big, 1, '[SEG]')])
    assert 'loss_mask' in losses and all(torch.isfinite(v).all() for v in losses.values())


def test_predict_formats(decoder, scenes):
    decoder.eval()
    samples = [
        det_sample(scenes[0], 0, '[DET]', ori_size=128),
        det_sample(scenes[1], 1, '[SEG]', ori_size=96),
        grd_sample(scenes[2], 1, 2)
    ]
    samples[0].set_metainfo(dict(target_label_ids=[7, 5, 9]))
    embeds, mask = link_inputs(3, len(CLASSES), valid=[3, 3, 1])
    with torch.no_grad():
        out = decoder.predict(embeds, mask, [scenes[i]['image'] for i in range(3)], samples)
    assert out is samples
    det, seg, grd = (s.pred_instances for s in out)
    # [DET]: 30 queries x 3 targets candidates, top max_per_img, labels are dataset labels
    assert len(det) == 90 and set(det.labels.tolist()) <= {7, 5, 9}
    assert torch.all(det.scores[:-1] >= det.scores[1:])
    assert det.bboxes.shape == (90, 4) and det.bboxes.max() <= 128 and det.bboxes.min() >= 0
    assert 'masks' not in det
    # [SEG]: masks in the original image (96 x 96), boxes rescaled by scale_factor 64/96
    assert seg.masks.shape == (90, 96, 96) and seg.masks.dtype == torch.bool
    assert seg.bboxes.max() <= 96
    # [GRD]: the single best box of the one target
    assert len(grd) == 1 and grd.labels.tolist() == [0] and grd.bboxes.shape == (1, 4)


def test_predictions_are_permutation_equivariant_in_targets(decoder, scenes):
    """Targets are independent sub-sentences: shuffling them only relabels the predictions."""
    decoder.eval()
    embeds, mask = link_inputs(1, 3)
    order = [2, 0, 1]
    first = det_sample(scenes[0], 0)
    second = det_sample(scenes[0], 0)
    second.set_metainfo(dict(target_label_ids=order))
    with torch.no_grad():
        a = decoder.predict(embeds, mask, [scenes[0]['image']], [first])[0].pred_instances
        b = decoder.predict(embeds[:, order], mask, [scenes[0]['image']],
                            [second])[0].pred_instances
    assert torch.allclose(a.scores, b.scores, atol=1e-5)
    for label in range(3):
        assert torch.allclose(
            a.scores[a.labels == label].max(), b.scores[b.labels == label].max(), atol=1e-5)


def test_predictions_pass_through_mmdet_metrics(decoder, scenes, tmp_path):
    decoder.eval()
    samples = [det_sample(scene, i, '[SEG]') for i, scene in enumerate(scenes)]
    embeds, mask = link_inputs(len(scenes), len(CLASSES))
    with torch.no_grad():
        decoder.predict(embeds, mask, [s['image'] for s in scenes], samples)
    coco = Evaluator(
        CocoMetric(
            ann_file=write_coco_json(scenes, str(tmp_path / 'inst.json')), metric=['bbox', 'segm']))
    coco.dataset_meta = dict(classes=CLASSES)
    coco.process(samples)
    results = coco.evaluate(len(samples))
    assert 0.0 <= results['coco/bbox_mAP'] <= 1.0 and 0.0 <= results['coco/segm_mAP'] <= 1.0

    refs = [(scene, 0) for scene in scenes]
    grd = [grd_sample(scene, 0, i) for i, scene in enumerate(scenes)]
    embeds, mask = link_inputs(len(scenes), 1)
    with torch.no_grad():
        decoder.predict(embeds, mask, [s['image'] for s in scenes], grd)
    refexp = Evaluator(
        RefExpMetric(
            ann_file=write_refexp_json(refs, str(tmp_path / 'ref.json')),
            metric='bbox',
            topk=(1, 5, 10)))
    refexp.process(grd)
    results = refexp.evaluate(len(grd))
    assert 0.0 <= results['refexp/refcoco_precision@1'] <= 1.0


def test_rejects_bad_inputs(decoder, scenes):
    decoder.train()
    embeds, mask = link_inputs(1, 3, valid=[2])
    sample = det_sample(scenes[0], 0)
    sample.gt_instances.labels[:] = 2  # target 2 is padding
    with pytest.raises(ValueError, match='has no target'):
        decoder.loss(embeds, mask, [scenes[0]['image']], [sample])
    with pytest.raises(ValueError, match='image view'):
        decoder.loss(embeds, mask, None, [det_sample(scenes[0], 0)])
