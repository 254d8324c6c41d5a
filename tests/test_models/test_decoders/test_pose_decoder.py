"""Tests of the UniPose-style pose decoder plugin (``mmvisionllm/models/decoders/pose``).

The LLM is stood in for by a learnable table of link embeddings [T, N, C]; the images are stick
figures rendered here (K = 7 keypoints), so every expected value is known exactly.
"""
import copy
import json
import os.path as osp
from typing import List, Tuple

import cv2
import numpy as np
import pytest
import torch
from learning_figures import report_figures
from mmdet.models.task_modules import HungarianAssigner  # noqa: F401  (registers mmdet costs)
from mmengine.config import Config
from mmengine.structures import InstanceData
from mmpose.evaluation.functional.nms import oks_iou
from mmpose.evaluation.metrics import CocoMetric

from mmvisionllm.models.decoders import BaseLinkDecoder
from mmvisionllm.models.decoders.pose import (LinkPromptEncoder, PoseSpecialist, UniPoseDecoder,
                                              keypoint_oks_matrix)
from mmvisionllm.registry import MODELS, TASK_UTILS
from mmvisionllm.structures import MMDataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY_CFG = osp.join(REPO, 'configs/_base_/models/decoders/pose_tiny.py')
REAL_CFG = osp.join(REPO, 'configs/_base_/models/decoders/pose_unipose_t.py')

KPT_NAMES = ['head', 'neck', 'hip', 'left_hand', 'right_hand', 'left_foot', 'right_foot']
LIMBS = [(0, 1), (1, 2), (1, 3), (1, 4), (2, 5), (2, 6)]
K = len(KPT_NAMES)
SIGMAS = [0.08] * K
LINK_C = 32


# --------------------------------------------------------------------------- fixtures / helpers
def render_stick_figures(num_images: int,
                         size: int = 128,
                         seed: int = 0) -> Tuple[List[np.ndarray], List[list]]:
    """BGR uint8 images with 1-2 stick figures each and their exact (box, keypoints [K, 2])."""
    rng = np.random.RandomState(seed)
    images, objects = [], []
    for _ in range(num_images):
        img = np.full((size, size, 3), rng.randint(0, 60, 3), np.uint8)
        objs = []
        for slot in rng.permutation(2)[:rng.randint(1, 3)]:
            h = rng.uniform(45, 70)
            cx = (slot + 0.5) * size / 2 + rng.uniform(-8, 8)
            top = rng.uniform(5, size - h - 5)
            head, neck = np.array([cx, top + 0.1 * h]), np.array([cx, top + 0.22 * h])
            hip = np.array([cx + rng.uniform(-4, 4), top + 0.6 * h])
            la, ra = rng.uniform(0.2, 1.2, 2)
            kpts = np.stack([
                head, neck, hip, neck + 0.3 * h * np.array([-np.cos(la), np.sin(la)]),
                neck + 0.3 * h * np.array([np.cos(ra), np.sin(ra)]),
                hip + [-rng.uniform(0.05, 0.2) * h, 0.38 * h],
                hip + [rng.uniform(0.05, 0.2) * h, 0.38 * h]
            ])
            color = tuple(int(c) for c in rng.randint(120, 256, 3))
            for a, b in LIMBS:
                cv2.line(img, tuple(int(v) for v in kpts[a]), tuple(int(v) for v in kpts[b]), color,
                         2)
            cv2.circle(img, tuple(int(v) for v in head), int(0.1 * h), color, -1)
            x0, y0 = kpts.min(0) - 0.1 * h
            x1, y1 = kpts.max(0) + 2
            objs.append((np.array([x0, y0, x1, y1]), kpts))
        images.append(img)
        objects.append(objs)
    return images, objects


def to_batch(images: List[np.ndarray],
             objects: List[list],
             scale: float = 1.0) -> Tuple[List[torch.Tensor], List[MMDataSample]]:
    """Decoder inputs: RGB uint8 [3, H, W] views (as the pipeline packs them) and samples with gt
    in view pixels plus the metainfo mmpose's CocoMetric reads (``id`` list of annotation ids,
    ``img_id``, ``ori_shape``).
    ``scale`` resizes the view (gt scaled with it; ``scale_factor`` recorded)."""
    views, samples, ann_id = [], [], 1
    for i, (img, objs) in enumerate(zip(images, objects)):
        h, w = img.shape[:2]
        view = img if scale == 1.0 else cv2.resize(img, (round(w * scale), round(h * scale)))
        views.append(torch.from_numpy(view[..., ::-1].copy()).permute(2, 0, 1).contiguous())
        ids = list(range(ann_id, ann_id + len(objs)))
        ann_id += len(objs)
        sample = MMDataSample(
            metainfo=dict(
                img_id=i + 1,
                id=ids,
                img_shape=view.shape[:2],
                ori_shape=(h, w),
                scale_factor=(view.shape[1] / w, view.shape[0] / h),
                link_tokens=['[POSE]'] * (1 + K)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(np.stack([o[0] for o in objs]) * scale, dtype=torch.float32),
            labels=torch.zeros(len(objs), dtype=torch.long),
            keypoints=torch.tensor(np.stack([o[1] for o in objs]) * scale, dtype=torch.float32),
            keypoints_visible=torch.ones(len(objs), K))
        samples.append(sample)
    return views, samples


def write_coco_keypoints(images: List[np.ndarray], objects: List[list], path: str) -> str:
    """The ground truth as a COCO person-keypoints json (area = box area, as ShapesWorld)."""
    coco = dict(
        images=[],
        annotations=[],
        categories=[
            dict(
                id=1,
                name='person',
                keypoints=KPT_NAMES,
                skeleton=[[a + 1, b + 1] for a, b in LIMBS])
        ])
    ann_id = 1
    for i, (img, objs) in enumerate(zip(images, objects)):
        coco['images'].append(
            dict(id=i + 1, file_name=f'{i}.png', height=img.shape[0], width=img.shape[1]))
        for box, kpts in objs:
            x0, y0, x1, y1 = box.tolist()
            coco['annotations'].append(
                dict(
                    id=ann_id,
                    image_id=i + 1,
                    category_id=1,
                    iscrowd=0,
                    num_keypoints=K,
                    bbox=[x0, y0, x1 - x0, y1 - y0],
                    area=(x1 - x0) * (y1 - y0),
                    keypoints=np.concatenate([kpts, np.full((K, 1), 2.)], 1).ravel().tolist()))
            ann_id += 1
    with open(path, 'w') as f:
        json.dump(coco, f)
    return path


def keypoint_ap(samples: List[MMDataSample], ann_file: str) -> float:
    """mmpose CocoMetric keypoint AP of predicted samples, fed exactly as the Evaluator feeds it."""
    metric = CocoMetric(ann_file=ann_file, score_mode='bbox', nms_mode='none')
    metric.dataset_meta = dict(dataset_name='sticks', num_keypoints=K, sigmas=np.array(SIGMAS))
    metric.process([], [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))['coco/AP']


def small_decoder_cfg(dims: int = 64) -> dict:
    """pose_tiny.py shrunk further for the unit tests (same structure, fewer channels/queries)."""
    cfg = Config.fromfile(TINY_CFG).pose_decoder
    cfg.embed_dims = dims
    layer = cfg.decoder.layer_cfg
    enc_layer = cfg.image_encoder.encoder.layer_cfg
    for part in (layer.self_attn_cfg, layer.cross_attn_cfg, layer.ffn_cfg, enc_layer.self_attn_cfg,
                 enc_layer.ffn_cfg):
        part.embed_dims = dims
    layer.ffn_cfg.feedforward_channels = enc_layer.ffn_cfg.feedforward_channels = 2 * dims
    cfg.image_encoder.neck.out_channels = dims
    cfg.image_encoder.neck.norm_cfg.num_groups = 16
    cfg.decoder.num_object_layers = 1
    cfg.num_object_queries, cfg.num_pose_groups = 10, 4
    cfg.keypoint_sigmas = SIGMAS
    cfg.test_cfg = dict(max_per_img=4)
    return dict(cfg, in_channels=LINK_C)


def link_inputs(table: torch.Tensor, batch_size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """[T, N, C] table → link_embeds [B, T, N, C], link_mask [B, T]."""
    return (table[None].expand(batch_size, -1, -1,
                               -1), torch.ones(batch_size, table.size(0), dtype=torch.bool))


@pytest.fixture(scope='module')
def sticks(tmp_path_factory):
    images, objects = render_stick_figures(2, seed=0)
    ann = write_coco_keypoints(images, objects, str(tmp_path_factory.mktemp('pose') / 'gt.json'))
    return images, objects, ann


# --------------------------------------------------------------------------- building / contract
def test_builds_from_tiny_config_as_link_decoder():
    cfg = Config.fromfile(TINY_CFG)
    decoder = MODELS.build(dict(cfg.pose_decoder, in_channels=LINK_C))
    assert isinstance(decoder, BaseLinkDecoder) and isinstance(decoder, UniPoseDecoder)
    assert decoder.routing_tokens == ('[POSE]', )
    assert decoder.num_queries == 4 and decoder.in_channels == LINK_C
    num_params = sum(p.numel() for p in decoder.parameters())
    assert 1e6 < num_params < 3e6, num_params
    # the image branch is mmdet's, the layers are mmdet's deformable-DETR ones
    assert type(decoder.image_encoder.backbone).__name__ == 'ResNet'
    assert type(decoder.decoder.pose_layers[0]).__name__ == 'DeformableDetrTransformerDecoderLayer'
    assert type(decoder.data_preprocessor).__name__ == 'DetDataPreprocessor'


def test_emitted_targets_without_keypoints_are_reported_not_decoded():
    """A chat answer with the object target only ('person [POSE]') cannot be decoded."""
    decoder = MODELS.build(small_decoder_cfg())
    assert decoder.emitted_targets_error(['[POSE]'] * (1 + K)) is None
    error = decoder.emitted_targets_error(['[POSE]'])
    assert 'needs 1 object target(s) followed by keypoint targets' in error
    assert 'emitted 1 target(s)' in error


def test_real_config_is_unipose_t_scale():
    cfg = Config.fromfile(REAL_CFG)
    decoder = MODELS.build(dict(cfg.pose_decoder, in_channels=4096))
    backbone = sum(p.numel() for p in decoder.image_encoder.backbone.parameters())
    total = sum(p.numel() for p in decoder.parameters())
    assert type(decoder.image_encoder.backbone).__name__ == 'SwinTransformer'
    assert 27e6 < backbone < 28.5e6  # Swin-T
    assert 45e6 < total < 55e6, total
    assert len(decoder.keypoint_sigmas) == 17
    assert decoder.prompt_encoder.proj.layers[0].in_features == 4096


@pytest.mark.parametrize('center', [False, True])
def test_prompt_encoder_splits_object_and_keypoint_targets(center):
    enc = LinkPromptEncoder(in_channels=8, embed_dims=16, center=center)
    embeds = torch.randn(2, 1 + K + 1, 3, 8)
    mask = torch.ones(2, 1 + K + 1, dtype=torch.bool)
    mask[0, -1] = False  # sample 0: targets in slots 0..K, last slot padded
    mask[1, 0] = False  # sample 1: first slot padded, the same targets in slots 1..K+1
    embeds[1, 1:] = embeds[0, :-1]
    embeds[0, -1] = embeds[1, 0] = 100.  # padding must not leak into the prompts
    out = enc(embeds, mask)
    assert out['obj_embeds'].shape == (2, 1, 16) and out['kpt_embeds'].shape == (2, K, 16)
    assert out['obj_mask'].all()
    # the same targets give the same prompts whatever their slot
    torch.testing.assert_close(out['obj_embeds'][0], out['obj_embeds'][1])
    torch.testing.assert_close(out['kpt_embeds'][0], out['kpt_embeds'][1])
    prompts = torch.cat([out['obj_embeds'], out['kpt_embeds']], 1)  # [B, 1 + K, d]
    raw = enc.proj(embeds[0, :-1]).mean(1)  # MLP(C -> d), then mean over the N link queries
    if center:  # centred over the sample's targets, one scale: unit RMS, geometry kept
        torch.testing.assert_close(prompts.mean(1), torch.zeros(2, 16), atol=1e-5, rtol=0)
        assert prompts.pow(2).mean().item() == pytest.approx(1.0, rel=1e-4)
        centred = raw - raw.mean(0)
        torch.testing.assert_close(prompts[0], centred / centred.pow(2).mean().sqrt())
    else:
        torch.testing.assert_close(prompts[0], raw)
    bad = torch.ones(2, 1 + K, dtype=torch.bool)
    bad[1, -1] = False  # K differs between samples
    with pytest.raises(ValueError, match='same'):
        enc(embeds[:, :1 + K], bad)


def test_image_encoder_masks_padding_of_mixed_size_views():
    torch.manual_seed(0)
    decoder = MODELS.build(small_decoder_cfg())
    views = [
        torch.randint(0, 255, (3, 128, 128), dtype=torch.uint8),
        torch.randint(0, 255, (3, 64, 128), dtype=torch.uint8)
    ]
    batch = decoder.data_preprocessor(dict(inputs=views, data_samples=None), False)
    assert batch['inputs'].shape == (2, 3, 128, 128)  # padded to the largest view
    feats = decoder.image_encoder(batch['inputs'], [(128, 128), (64, 128)])
    assert feats['memory'].shape[:2] == feats['memory_mask'].shape
    assert feats['spatial_shapes'].tolist() == [[16, 16], [8, 8], [4, 4]]
    assert not feats['memory_mask'][0].any()
    assert feats['memory_mask'][1].float().mean().item() == pytest.approx(0.5)
    torch.testing.assert_close(feats['valid_ratios'][1], torch.tensor([[1., .5]] * 3))


# --------------------------------------------------------------------------- OKS and matching
def test_keypoint_oks_matches_mmpose_oks_iou():
    rng = np.random.RandomState(1)
    gt = rng.uniform(0, 100, (3, K, 2))
    pred = gt[[2, 0, 1, 1]] + rng.normal(0, 3, (4, K, 2))
    areas = np.array([900., 1600., 2500.])
    sigmas = np.linspace(0.03, 0.1, K)
    ours = keypoint_oks_matrix(
        torch.tensor(pred), torch.tensor(gt), torch.ones(3, K), torch.tensor(areas),
        torch.tensor(sigmas)).numpy()
    for g in range(3):
        g_vec = np.concatenate([gt[g], np.ones((K, 1))], 1).ravel()
        d_vecs = np.concatenate([pred, np.ones((4, K, 1))], 2).reshape(4, -1)
        ref = oks_iou(g_vec, d_vecs, areas[g], np.full(4, areas[g]), sigmas=sigmas)
        np.testing.assert_allclose(ours[:, g], ref, rtol=1e-5, atol=1e-7)
    # perfect keypoints score 1, unlabelled keypoints are ignored
    vis = torch.ones(1, K)
    vis[0, :3] = 0
    far = torch.tensor(gt[:1]).clone()
    far[0, :3] += 50.
    one = keypoint_oks_matrix(far, torch.tensor(gt[:1]), vis, torch.tensor([900.]),
                              torch.tensor(sigmas))
    assert one.item() == pytest.approx(1.0)


def test_hungarian_assigner_matches_by_keypoints():
    assigner = TASK_UTILS.build(
        dict(
            type='mmdet.HungarianAssigner',
            match_costs=[
                dict(type='mmvisionllm.KeypointL1Cost', weight=10.),
                dict(type='mmvisionllm.KeypointOKSCost', weight=4.),
            ]))
    gt_kpts = torch.rand(3, K, 2) * 100
    order = torch.tensor([2, 0, 1])
    pred = InstanceData(keypoints=gt_kpts[order] + 0.5, scores=torch.zeros(3, 1))
    gt = InstanceData(
        keypoints=gt_kpts,
        keypoints_visible=torch.ones(3, K),
        areas=torch.full((3, ), 1000.),
        labels=torch.zeros(3, dtype=torch.long))
    result = assigner.assign(pred, gt, img_meta=dict(img_shape=(100, 100), keypoint_sigmas=SIGMAS))
    assert result.gt_inds.tolist() == (order + 1).tolist()


# --------------------------------------------------------------------------- loss / predict
def test_loss_terms_and_gradient_reaches_link_embeddings(sticks):
    torch.manual_seed(0)
    images, objects, _ = sticks
    views, samples = to_batch(images, objects)
    # plus an image without people (a negative sample with empty ground truth)
    empty = MMDataSample(metainfo=dict(img_shape=(128, 128)))
    empty.gt_instances = InstanceData(
        bboxes=torch.zeros(0, 4),
        labels=torch.zeros(0, dtype=torch.long),
        keypoints=torch.zeros(0, K, 2),
        keypoints_visible=torch.zeros(0, K))
    views, samples = views + [torch.zeros(3, 128, 128, dtype=torch.uint8)], samples + [empty]
    decoder = MODELS.build(small_decoder_cfg())
    table = torch.randn(1 + K, 4, LINK_C, requires_grad=True)
    losses = decoder.loss(*link_inputs(table, len(views)), views, samples)
    terms = ['cls', 'bbox', 'iou', 'kpt', 'oks', 'vis']
    expected = {f'loss_{t}'
                for t in terms} | {f'loss_{t}_aux'
                                   for t in terms
                                   } | {f'loss_{t}_enc'
                                        for t in ('cls', 'bbox', 'iou')}
    assert set(losses) == expected
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    sum(losses.values()).backward()
    # every target's link embeddings (class and each keypoint) receive gradient
    assert (table.grad.abs().sum((1, 2)) > 0).all()


def test_predict_is_mmpose_format_in_original_pixels(sticks):
    torch.manual_seed(0)
    images, objects, _ = sticks
    decoder = MODELS.build(small_decoder_cfg()).eval()
    table = torch.randn(1 + K, 4, LINK_C)
    with torch.no_grad():
        full = decoder.predict(*link_inputs(table, 2), *to_batch(images, objects))
        half = decoder.predict(*link_inputs(table, 2), *to_batch(images, objects, scale=0.5))
    for sample in full:
        pred = sample.pred_instances
        assert isinstance(pred.keypoints, np.ndarray) and pred.keypoints.shape == (4, K, 2)
        assert pred.keypoint_scores.shape == (4, K) and pred.keypoints_visible.shape == (4, K)
        assert pred.bboxes.shape == (4, 4) and pred.bbox_scores.shape == (4, )
        assert (np.diff(pred.scores) <= 0).all() and (pred.labels == 0).all()
        assert ((pred.keypoint_scores >= 0) & (pred.keypoint_scores <= 1)).all()
    # a half-size view is mapped back to the original image: coordinates stay in 0..128
    for sample in half:
        assert sample.pred_instances.keypoints.max() <= 128 + 1e-3
        assert sample.pred_instances.bboxes.max() <= 128 + 1e-3
    # at init the keypoints sit at the box centres; rescaling preserves that relation
    pred = half[0].pred_instances
    centres = (pred.bboxes[:, :2] + pred.bboxes[:, 2:]) / 2
    np.testing.assert_allclose(pred.keypoints[:, 0], centres, atol=1.0)


def test_perfect_predictions_score_ap_one_through_mmpose_cocometric(sticks):
    """Known answer for the metric path: the gt, written as our decoder writes predictions, is
    read unchanged by mmpose's CocoMetric and scores AP = 1."""
    images, objects, ann = sticks
    _, samples = to_batch(images, objects)
    for sample, objs in zip(samples, objects):
        n = len(objs)
        sample.pred_instances = InstanceData(
            bboxes=np.stack([o[0] for o in objs]).astype(np.float32),
            scores=np.ones(n, np.float32),
            bbox_scores=np.ones(n, np.float32),
            labels=np.zeros(n, np.int64),
            keypoints=np.stack([o[1] for o in objs]).astype(np.float32),
            keypoint_scores=np.ones((n, K), np.float32),
            keypoints_visible=np.ones((n, K), np.float32))
    assert keypoint_ap(samples, ann) == pytest.approx(1.0)


def test_short_training_lowers_the_losses(sticks):
    """A few steps of decoder + learnable link table on one image: the set loss and the keypoint
    loss fall (the keypoints leave the box centres); the AP known answer is the slow test below.

    Mean of the last 5 losses over the first, measured under the five kernel settings of
    ``tools/analysis_tools/learning_test_spread.py`` (1 and 2 threads, oneDNN off, ATen AVX2 and
    unvectorised; AVX-512 CPU): set loss 0.664-0.665, keypoint loss 0.612-0.618. Without training
    both stay at 1.0. The bound is 0.8 (it was 0.7, 5 % above the measured set-loss ratio):
    ``python tools/analysis_tools/learning_test_spread.py tests/test_models/test_decoders/
    test_pose_decoder.py::test_short_training_lowers_the_losses``.
    """
    torch.manual_seed(0)
    images, objects, _ = sticks
    views, samples = to_batch(images[:1], objects[:1])
    decoder = MODELS.build(small_decoder_cfg())
    table = torch.nn.Parameter(torch.randn(1 + K, 4, LINK_C))
    params = list(decoder.parameters()) + [table]
    optim = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    totals, kpts = [], []
    for _ in range(15):
        losses = decoder.loss(*link_inputs(table, 1), views, samples)
        total = sum(losses.values())
        optim.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.1)
        optim.step()
        totals.append(total.item())
        kpts.append(losses['loss_kpt'].item())
    report_figures(
        total_ratio=np.mean(totals[-5:]) / totals[0], kpt_ratio=np.mean(kpts[-5:]) / kpts[0])
    assert np.mean(totals[-5:]) < 0.8 * totals[0], totals
    assert np.mean(kpts[-5:]) < 0.8 * kpts[0], kpts


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_overfit_reaches_keypoint_ap_0_9(tmp_path):
    """Known answer: the tiny decoder (pose_tiny.py) + a learnable link table memorises 4
    stick-figure images; mmpose's CocoMetric, fed the predictions unchanged, gives AP >= 0.9.

    It stops at the first check >= 0.9 (every 50 steps, at most 400). Measured with
    ``tools/analysis_tools/learning_test_spread.py ... --settings t1 t2`` (1 and 2 threads, AVX-512
    CPU; the other settings not yet measured): AP 0.916 (1 thread) and 1.0 (2 threads), both after
    the second check (100 steps), so the margin is 300 steps of the 400 allowed.
    """
    torch.manual_seed(0)
    images, objects = render_stick_figures(4, seed=3)
    ann = write_coco_keypoints(images, objects, str(tmp_path / 'gt.json'))
    views, samples = to_batch(images, objects)
    cfg = Config.fromfile(TINY_CFG).pose_decoder
    decoder = MODELS.build(dict(cfg, in_channels=LINK_C, keypoint_sigmas=SIGMAS))
    table = torch.nn.Parameter(torch.randn(1 + K, 4, LINK_C))
    params = list(decoder.parameters()) + [table]
    optim = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    ap_history = []
    for _ in range(8):
        decoder.train()
        for _ in range(50):
            losses = decoder.loss(*link_inputs(table, len(views)), views, samples)
            optim.zero_grad()
            sum(losses.values()).backward()
            torch.nn.utils.clip_grad_norm_(params, 0.1)
            optim.step()
        decoder.eval()
        with torch.no_grad():
            out = decoder.predict(*link_inputs(table, len(views)), views, copy.deepcopy(samples))
        ap_history.append(keypoint_ap(out, ann))
        if ap_history[-1] >= 0.9:
            break
    report_figures(keypoint_ap=ap_history[-1], steps=50 * len(ap_history))
    assert ap_history[-1] >= 0.9, ap_history
    assert ap_history[0] < ap_history[-1]


# --------------------------------------------------------------------------- baseline
def test_pose_specialist_trains_and_predicts_with_learned_prompts(sticks):
    torch.manual_seed(0)
    images, objects, _ = sticks
    views, samples = to_batch(images, objects)
    cfg = small_decoder_cfg()
    cfg.pop('in_channels')
    model = MODELS.build(
        dict(type='PoseSpecialist', decoder=cfg, num_keypoints=K, prompt_channels=LINK_C))
    assert isinstance(model, PoseSpecialist)
    assert model.prompts.weight.shape == ((1 + K) * 4, LINK_C)
    link = model.link_inputs(2)
    assert link['link_embeds'].shape == (2, 1 + K, 4, LINK_C)
    from mmengine.optim import OptimWrapper
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    before = model.prompts.weight.detach().clone()
    log = model.train_step(dict(inputs=dict(image=views), data_samples=samples), optim)
    assert 'loss' in log and torch.isfinite(log['loss'])
    assert not torch.equal(before, model.prompts.weight)  # the prompt table is trained
    out = model.val_step(dict(inputs=dict(image=views), data_samples=copy.deepcopy(samples)))
    assert out[0].pred_instances.keypoints.shape == (4, K, 2)
    final = model(views, mode='tensor')
    assert final['kpts'].shape == (2, 4, K, 2)
