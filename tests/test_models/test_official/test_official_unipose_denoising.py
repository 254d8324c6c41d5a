"""The contrastive denoising (CDN) training of OfficialUniPoseDecoder at reduced width: the query
construction (groups, padding, noise bounds, label book), the attention masks, that the matching
queries and the other groups cannot see a denoising group, the ``_dn`` losses (present, finite,
gradients, samples without ground truth), ``dn_number=0`` unchanged, and a short learning check.
"""
import torch
from mmdet.models.layers.transformer.utils import inverse_sigmoid
from mmengine.structures import InstanceData
from torch import nn

from mmvisionllm.models.decoders.pose.official.official_unipose_denoising import (
    OfficialUniPoseCdnGenerator, dn_pose_attention_mask, dn_positive_indices)
from mmvisionllm.models.decoders.pose.official.official_unipose_layers import \
    pose_group_attention_mask
from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample
from .test_official_unipose_decoder import LLM_WIDTH, SMALL

#: SMALL without drop paths, so that two training forwards are comparable
DETERMINISTIC = dict(
    SMALL,
    backbone=dict(SMALL['backbone'], drop_path_rate=0.0),
    transformer=dict(SMALL['transformer'], fusion_droppath=0.0))
MATCHING_KEYS = {
    f'{name}{suffix}'
    for name in ('loss_ce', 'loss_bbox', 'loss_giou')
    for suffix in ('', '_0', '_1', '_2', '_interm')
} | {f'{name}{suffix}'
     for name in ('loss_keypoints', 'loss_oks')
     for suffix in ('', '_2')}
DN_KEYS = {
    f'{name}_dn{suffix}'
    for name in ('loss_ce', 'loss_bbox', 'loss_giou')
    for suffix in ('', '_0', '_1', '_2')
}


def build(seed: int, dn_number: int = 10):
    torch.manual_seed(seed)
    decoder = MODELS.build(dict(DETERMINISTIC, dn_number=dn_number))
    with torch.no_grad():
        for param in decoder.parameters():
            param.normal_(0, 0.2)
    return decoder.train()


def corners(box):
    return torch.cat([box[:, :2] - box[:, 2:] / 2, box[:, :2] + box[:, 2:] / 2], 1)


def _official_training_mask(kpt_valid, num_groups, num_heads):
    """The official denoising-training pose mask of the matching part, as a literal loop."""
    batch, length = kpt_valid.shape
    size = num_groups * length
    mask = torch.zeros(batch, size, size, dtype=torch.bool)
    for row in range(size):
        start, end = (row // length) * length, (row // length + 1) * length
        if start > 0:
            mask[:, row, :start] = True
        if end < size:
            mask[:, row, end:] = True
    equal = kpt_valid[:, :, None] == kpt_valid[:, None, :]
    for g in range(num_groups):
        block = slice(g * length, (g + 1) * length)
        mask[:, block, block] = ~equal
    return mask.repeat_interleave(num_heads, 0)


def test_cdn_queries_known_structure():
    features = torch.randn(3, 4, 8)
    labels = [torch.tensor([2, 0]), torch.tensor([1]), torch.zeros(0, dtype=torch.long)]
    boxes = [
        torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.3, 0.6, 0.1, 0.1]]),
        torch.tensor([[.4, .4, .2, .2]]),
        torch.zeros(0, 4)
    ]
    gen = OfficialUniPoseCdnGenerator(4, 8, 5, dn_number=5, label_noise_scale=0, box_noise_scale=0)
    assert not list(gen.parameters())  # no label table: the content is the class features
    dn = gen(labels, boxes, features)
    # at most 2 gt -> groups of 4 (2 positive, 2 negative), 5 // 2 = 2 groups, D = 8
    assert dn['num_groups'] == 2 and dn['group_size'] == 4 and dn['counts'] == [2, 1, 0]
    assert dn['dn_queries'].shape == (3, 8, 8) and dn['dn_boxes'].shape == (3, 8, 4)
    for g in range(2):
        for polarity in range(2):
            slot = g * 4 + polarity * 2
            assert torch.equal(dn['dn_queries'][0, slot], features[0, 2])
            assert torch.equal(dn['dn_queries'][0, slot + 1], features[0, 0])
            assert torch.equal(dn['dn_queries'][1, slot], features[1, 1])
            assert not dn['dn_queries'][1, slot + 1].any()  # padding of the smaller sample
            assert not dn['dn_boxes'][1, slot + 1].any()  # box sigmoid(0) = 0.5
            assert torch.allclose(dn['dn_boxes'][0, slot + 1],
                                  inverse_sigmoid(boxes[0][1], eps=1e-3))
    assert not dn['dn_queries'][2].any() and not dn['dn_boxes'][2].any()  # a sample without gt
    # positives: g * 4 + j for j < n_i
    (q0, t0), (q1, t1), (q2, t2) = dn_positive_indices(dn['counts'], 2, 4, torch.device('cpu'))
    assert q0.tolist() == [0, 1, 4, 5] and t0.tolist() == [0, 1, 0, 1]
    assert q1.tolist() == [0, 4] and t1.tolist() == [0, 0] and len(q2) == 0
    mask = dn['dn_attn_mask']
    assert mask.shape == (13, 13)
    assert mask[8:, :8].all() and not mask[8:, 8:].any() and not mask[:8, 8:].any()
    assert not mask[:4, :4].any() and mask[:4, 4:8].all() and mask[4:8, :4].all()
    assert not mask[4:8, 4:8].any()
    # group counts: dn_number // max n_i, at least one group
    one = [torch.tensor([0, 1])], [torch.tensor([[.5, .5, .2, .2]] * 2)]
    assert OfficialUniPoseCdnGenerator(4, 8, 5, dn_number=1)(*one, features[:1])['num_groups'] == 1
    three = [torch.tensor([0, 1, 2])], [torch.tensor([[.5, .5, .2, .2]] * 3)]
    dn100 = OfficialUniPoseCdnGenerator(4, 8, 5, dn_number=100)(*three, features[:1])
    assert dn100['num_groups'] == 33 and dn100['dn_queries'].shape[1] == 33 * 6
    assert gen([labels[2]], [boxes[2]], features[:1]) is None  # no gt in the batch


def test_cdn_noise_bounds_and_label_book():
    # one ground truth, 100 groups: positive corners move by less than half the box size (x by
    # w / 2, y by h / 2), negative ones by half to one size (corners may cross: the width then
    # clamps to ~0, as official); far from the border, so nothing is clamped to the image
    gt = torch.tensor([[0.5, 0.5, 0.2, 0.3]])
    features = torch.randn(1, 4, 8)
    gen = OfficialUniPoseCdnGenerator(4, 8, 5, dn_number=100, label_noise_scale=1.0)
    torch.manual_seed(0)
    dn = gen([torch.tensor([1])], [gt], features)
    assert dn['num_groups'] == 100 and dn['group_size'] == 2
    copies = dn['dn_boxes'][0].sigmoid()
    half = gt[:, 2:].repeat(1, 2) / 2
    shift = (corners(copies) - corners(gt)).abs() / half
    positive, negative = shift[0::2], shift[1::2]
    assert (positive < 1 + 1e-4).all() and positive.max() > 0.9
    uncrossed = (copies[1::2, 2:] > 2e-3).all(1)
    assert uncrossed.sum() > 30
    assert (negative[uncrossed] >= 1 - 1e-4).all() and (negative <= 2 + 1e-4).all()
    assert negative[uncrossed].max() > 1.8
    # every content is the class feature of a label in the book [0, 4); with a noise ratio of
    # 1 half of the labels are redrawn, 3 / 4 of those differ: 37.5 % of 200 expected
    hits = (dn['dn_queries'][0][:, None] == features[0][None]).all(-1)
    assert (hits.sum(1) == 1).all()
    changed = (hits.float().argmax(1) != 1).float().mean()
    assert 0.25 < changed < 0.5, float(changed)


def test_pose_layer_mask_blocks():
    dn = OfficialUniPoseCdnGenerator(
        4, 8, 5, dn_number=5, label_noise_scale=0,
        box_noise_scale=0)([torch.tensor([0, 1])], [torch.rand(2, 4) * 0.5 + 0.2],
                           torch.randn(1, 4, 8))
    valid = torch.tensor([[1, 1, 1, 0, 1]])  # box query + 4 keypoint slots, slot 3 unused
    mask = dn_pose_attention_mask(dn['dn_attn_mask'], 8, valid, 3, 2)
    assert mask.shape == (2, 8 + 15, 8 + 15)
    assert torch.equal(mask[:, :8, :8], dn['dn_attn_mask'][None, :8, :8].expand(2, -1, -1))
    assert mask[:, 8:, :8].all()  # the pose queries do not see the denoising ones
    assert not mask[:, :8, 8:].any()  # the denoising ones see every pose query
    assert torch.equal(mask[:, 8:, 8:], _official_training_mask(valid, 3, 2))
    # in training no pose group sees another (the inference construction lets them see a few)
    train = pose_group_attention_mask(valid, 3, 2, block_size=5)
    for i in range(3):
        for j in range(3):
            if i != j:
                assert train[:, i * 5:(i + 1) * 5, j * 5:(j + 1) * 5].all()
    assert not pose_group_attention_mask(valid, 3, 2)[0, 4, 5]


def _sample(num: int, seed: int = 0) -> MMDataSample:
    gen = torch.Generator().manual_seed(seed)
    sample = MMDataSample(metainfo=dict(link_tokens=['[DET]'] + ['[POSE]'] * 5))
    xy = torch.rand(num, 2, generator=gen) * 30 + 5
    wh = torch.rand(num, 2, generator=gen) * 25 + 10
    sample.gt_instances = InstanceData(
        bboxes=torch.cat([xy, xy + wh], 1),
        labels=torch.zeros(num, dtype=torch.long),
        keypoints=xy[:, None] + torch.rand(num, 5, 2, generator=gen) * wh[:, None],
        keypoints_visible=torch.ones(num, 5))
    return sample


def _inputs(batch: int = 1, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    links = torch.randn(batch, 6, 4, LLM_WIDTH, generator=gen)
    images = [
        torch.randint(0, 255, (3, 64, 80), dtype=torch.uint8, generator=gen) for _ in range(batch)
    ]
    return links, torch.ones(batch, 6, dtype=torch.bool), images


class _Perturbed(nn.Module):
    """Wraps the generator and adds noise to the queries of the given denoising rows."""

    def __init__(self, inner: nn.Module, rows: slice) -> None:
        super().__init__()
        self.inner, self.rows = inner, rows

    def forward(self, *args):
        dn = self.inner(*args)
        dn['dn_queries'] = dn['dn_queries'].clone()
        dn['dn_queries'][:, self.rows] += 3 * torch.randn_like(dn['dn_queries'][:, self.rows])
        dn['dn_boxes'] = dn['dn_boxes'].clone()
        dn['dn_boxes'][:, self.rows] += torch.randn_like(dn['dn_boxes'][:, self.rows])
        return dn


def test_denoising_groups_are_invisible_to_the_others():
    decoder = build(0, dn_number=4)  # 2 gt -> 2 groups of 4 queries
    links, mask, images = _inputs()
    pixel_values, valid, sizes = decoder._preprocess(images, training=True)
    obj, obj_mask, kpt, kpt_mask = decoder.split_targets(links, mask, [_sample(2)])
    targets = decoder._targets([_sample(2)], sizes, kpt_mask, pixel_values.device)
    args = (pixel_values, valid, obj, obj_mask, kpt, kpt_mask)

    def run(rows=None):
        inner = decoder.dn_generator
        if rows is not None:
            decoder.dn_generator = _Perturbed(inner, rows)
        torch.manual_seed(7)
        with torch.no_grad():
            out = decoder.forward_official(*args, dn_targets=targets)
        decoder.dn_generator = inner
        return out

    base = run()
    assert base['num_denoising'] == 8
    plain = decoder.forward_official(*args)  # without denoising queries
    assert torch.equal(base['topk_index'], plain['topk_index'])
    assert torch.equal(base['group_index'], plain['group_index'])
    for level in range(2):  # box layers: the matching part is the one without denoising
        assert torch.allclose(base['hidden'][level][:, 8:], plain['hidden'][level], atol=1e-5)
    # changing group 1 changes neither group 0 nor the matching queries, in any layer
    other = run(slice(4, 8))
    all_dn = run(slice(0, 8))
    for level in range(4):
        assert torch.allclose(
            other['hidden'][level][:, :4], base['hidden'][level][:, :4], atol=1e-5)
        assert not torch.allclose(other['hidden'][level][:, 4:8], base['hidden'][level][:, 4:8])
        assert torch.allclose(
            all_dn['hidden'][level][:, 8:], base['hidden'][level][:, 8:], atol=1e-5)
    for key in ('pred_logits', 'pred_boxes', 'pred_keypoints'):
        assert torch.allclose(all_dn[key], base[key], atol=1e-5), key


def test_dn_losses_present_finite_with_gradients():
    decoder = build(0)
    links, mask, images = _inputs()
    links.requires_grad_(True)
    losses = decoder.loss(links, mask, images, [_sample(2)])
    assert set(losses) == MATCHING_KEYS | DN_KEYS
    assert all(torch.isfinite(v) for v in losses.values())
    assert all(losses[key] > 0 for key in DN_KEYS)
    # the content of a denoising query is a class feature: the _dn losses alone reach the
    # object link states through projection_llava
    sum(losses[key] for key in DN_KEYS).backward()
    assert links.grad[0, 0].abs().sum() > 0  # the [DET] link
    assert decoder.projection_llava.layers[0].weight.grad.abs().sum() > 0
    assert decoder.bbox_embed[0].layers[0].weight.grad.abs().sum() > 0


def test_samples_without_ground_truth():
    decoder = build(0)
    links, mask, images = _inputs(batch=2)
    losses = decoder.loss(links, mask, images, [_sample(2), _sample(0)])
    assert set(losses) == MATCHING_KEYS | DN_KEYS
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['loss_bbox_dn'] > 0 and losses['loss_ce_dn'] > 0
    sum(losses.values()).backward()
    # a batch without any ground truth: no denoising queries, the _dn keys are zeros
    decoder.zero_grad()
    losses = decoder.loss(links[:1], mask[:1], images[:1], [_sample(0)])
    assert set(losses) == MATCHING_KEYS | DN_KEYS
    assert all(float(losses[key].detach()) == 0 for key in DN_KEYS)
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()


def test_dn_number_zero_and_eval_unchanged():
    links, mask, images = _inputs()
    without = build(0, dn_number=0)
    torch.manual_seed(3)
    plain = without.loss(links, mask, images, [_sample(2)])
    assert set(plain) == MATCHING_KEYS
    # not training: no denoising queries whatever dn_number, the same losses exactly
    evaluated = build(0, dn_number=10).eval()
    torch.manual_seed(3)
    again = evaluated.loss(links, mask, images, [_sample(2)])
    assert set(again) == MATCHING_KEYS
    assert all(torch.equal(plain[key], again[key]) for key in MATCHING_KEYS)
    # with denoising queries the proposals and the box layers' matching part are untouched
    with_dn = build(0, dn_number=10)
    torch.manual_seed(3)
    dn = with_dn.loss(links, mask, images, [_sample(2)])
    for key in MATCHING_KEYS:
        if key.endswith(('_0', '_1', '_interm')):
            assert torch.allclose(dn[key], plain[key], rtol=1e-4, atol=1e-5), key


def test_dn_box_loss_falls_on_one_sample():
    """Learning check: 25 Adam steps (lr 1e-3, all losses) on one fixed sample and fixed noise;
    measured loss_bbox_dn + loss_giou_dn 5.63 -> 2.97 (ratio 0.53, the same on 1 and 2 threads;
    it plateaus near 0.52 by step 40); bound: below 0.7 of the start."""
    decoder = build(0)
    links, mask, images = _inputs()
    sample = _sample(2)
    optim = torch.optim.Adam(decoder.parameters(), lr=1e-3)
    history = []
    for _ in range(25):
        torch.manual_seed(0)  # the same denoising noise at every step
        losses = decoder.loss(links, mask, images, [sample])
        box = losses['loss_bbox_dn'] + losses['loss_giou_dn']
        history.append(float(box.detach()))
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()
    print(f'loss_bbox_dn + loss_giou_dn: {history[0]:.3f} -> {history[-1]:.3f} '
          f'(ratio {history[-1] / history[0]:.3f})')
    assert history[-1] < 0.7 * history[0], history
