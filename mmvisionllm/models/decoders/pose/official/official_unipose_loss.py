"""The losses of the official UniPose training.

For one set of predictions (a decoder layer, or the two-stage proposals) and the ground truth of
each image (class index into the object slots, normalised cxcywh box, normalised keypoints of the
used keypoint slots with visibilities, area normalised by the view size):

* Hungarian matching (scipy's ``linear_sum_assignment``) on
  ``2 * focal class cost + 5 * L1 + 2 * (-GIoU) + 10 * visible keypoint L1 + 4 * (1 - OKS)``
  (the keypoint terms only where the predictions have keypoints, as the official matcher);
* ``loss_ce``: sigmoid focal loss (alpha 0.25, gamma 2) over the used object slots of every
  query, summed; ``loss_bbox`` L1, ``loss_giou``; ``loss_keypoints`` visible-keypoint L1 and
  ``loss_oks`` linear ``1 - OKS``; all divided by the number of ground-truth instances.

The denoising queries use the same terms with a fixed assignment instead of the matching
(:func:`assigned_set_losses`: ``loss_ce`` over every denoising query, positive copies labelled
with their true class, box terms on the positive copies), divided by instances x groups.

Reused: mmdet's ``bbox_overlaps`` (GIoU) and ``bbox_cxcywh_to_xyxy``, scipy's assignment. The
focal loss is the few-line element-wise formula on the selected slots (mmdet's ``FocalLoss``
expects class-index targets and a fixed class axis, not a masked subset). The OKS term is
written here: mmpose's ``OKSLoss`` normalises by the box area in pixels and takes no per-call
sigmas subset, the official term uses the normalised area and the first K of its 68 sigmas.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy, bbox_overlaps
from scipy.optimize import linear_sum_assignment
from torch import Tensor

__all__ = [
    'OFFICIAL_POSE_LOSS', 'OFFICIAL_SIGMAS_68', 'pose_set_losses', 'assigned_set_losses',
    'match_pose'
]

#: Matching costs and loss weights of the official config (the official weight of ``loss_oks`` is
#: its ``keypoint_loss_coef``, 10, not ``oks_loss_coef``).
OFFICIAL_POSE_LOSS = dict(
    class_cost=2.0,
    bbox_cost=5.0,
    giou_cost=2.0,
    keypoint_cost=10.0,
    oks_cost=4.0,
    class_weight=2.0,
    bbox_weight=5.0,
    giou_weight=2.0,
    keypoint_weight=10.0,
    oks_weight=10.0,
    focal_alpha=0.25)

#: The official per-keypoint OKS sigmas (COCO's 17, then 0.025 for the 51 extra points).
OFFICIAL_SIGMAS_68 = [
    .026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062, .107, .107, .087, .087, .089,
    .089
] + [.025] * 51


def _focal_sum(logits: Tensor, targets: Tensor, alpha: float, gamma: float = 2.0) -> Tensor:
    """Summed sigmoid focal loss of element-wise logits / {0, 1} targets."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction='none')
    p_t = prob * targets + (1 - prob) * (1 - targets)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_t * ce * (1 - p_t)**gamma).sum()


def _oks(pred: Tensor, gt: Tensor, vis: Tensor, area: Tensor, sigmas: Tensor) -> Tensor:
    """OKS of [..., K, 2] predictions vs ground truth (broadcasting), normalised coordinates."""
    dist = ((pred - gt)**2).sum(-1)
    variances = (2 * sigmas)**2
    sim = torch.exp(-dist / (area[..., None] * variances * 2)) * vis
    return (sim.sum(-1) / (vis.sum(-1) + 1e-6)).clamp(min=1e-6)


@torch.no_grad()
def match_pose(logits: Tensor, boxes: Tensor, keypoints: Optional[Tensor], gt: dict, cfg: dict,
               sigmas: Tensor) -> Tuple[Tensor, Tensor]:
    """Hungarian matching of one image.

    Args:
        logits (Tensor): [Q, T]; boxes (Tensor): [Q, 4] cxcywh; keypoints (Tensor, optional):
            [Q, K, 2] normalised (None: box-only predictions).
        gt (dict): ``labels`` [G], ``boxes`` [G, 4] cxcywh, ``keypoints`` [G, K, 2],
            ``visible`` [G, K], ``area`` [G] (normalised).

    Returns:
        tuple: matched query indices and ground-truth indices (int64).
    """
    if len(gt['labels']) == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty
    prob = logits.float().sigmoid()
    alpha = cfg['focal_alpha']
    neg = (1 - alpha) * prob**2 * -(1 - prob + 1e-8).log()
    pos = alpha * (1 - prob)**2 * -(prob + 1e-8).log()
    cost = cfg['class_cost'] * (pos - neg)[:, gt['labels']]
    cost = cost + cfg['bbox_cost'] * torch.cdist(boxes.float(), gt['boxes'], p=1)
    cost = cost - cfg['giou_cost'] * bbox_overlaps(
        bbox_cxcywh_to_xyxy(boxes.float()), bbox_cxcywh_to_xyxy(gt['boxes']), mode='giou')
    if keypoints is not None:
        vis = gt['visible']
        l1 = ((keypoints[:, None] - gt['keypoints'][None]).abs() * vis[None, :, :, None]).sum(
            (-1, -2))
        oks = _oks(keypoints[:, None], gt['keypoints'][None], vis[None], gt['area'][None], sigmas)
        cost = cost + cfg['keypoint_cost'] * l1 + cfg['oks_cost'] * (1 - oks)
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    return torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)


def pose_set_losses(logits: Tensor, boxes: Tensor, keypoints: Optional[Tensor], class_valid: Tensor,
                    targets: List[dict], cfg: dict, sigmas: Tensor,
                    num_instances: float) -> Dict[str, Tensor]:
    """Weighted losses of one prediction set.

    Args:
        logits (Tensor): [B, Q, T]; boxes (Tensor): [B, Q, 4]; keypoints (Tensor, optional):
            [B, Q, K, 2] (None: no keypoint losses).
        class_valid (Tensor): [B, T] bool, used object slots.
        targets (list[dict]): per image, see :func:`match_pose`.
        num_instances (float): normaliser (ground-truth instances in the batch, >= 1).

    Returns:
        dict: ``loss_ce``, ``loss_bbox``, ``loss_giou`` (and ``loss_keypoints``, ``loss_oks``).
    """
    indices = [
        match_pose(logits[b], boxes[b], None if keypoints is None else keypoints[b], targets[b],
                   cfg, sigmas) for b in range(len(targets))
    ]
    return assigned_set_losses(logits, boxes, keypoints, class_valid, targets, indices, cfg, sigmas,
                               num_instances)


def assigned_set_losses(logits: Tensor, boxes: Tensor, keypoints: Optional[Tensor],
                        class_valid: Tensor, targets: List[dict], indices: List[Tuple[Tensor,
                                                                                      Tensor]],
                        cfg: dict, sigmas: Tensor, num_instances: float) -> Dict[str, Tensor]:
    """Weighted losses of one prediction set under a given assignment.

    Args:
        logits, boxes, keypoints, class_valid, targets, cfg, sigmas: see
            :func:`pose_set_losses`.
        indices (list[tuple[Tensor, Tensor]]): per image, the assigned query indices and their
            ground-truth indices (int64).
        num_instances (float): normaliser.

    Returns:
        dict: ``loss_ce`` (focal over every query and used slot, 1 at the assigned queries'
        classes), ``loss_bbox``, ``loss_giou`` (and ``loss_keypoints``, ``loss_oks``) of the
        assigned queries.
    """
    onehot = torch.zeros_like(logits)
    for b, (rows, cols) in enumerate(indices):
        onehot[b, rows.to(logits.device), targets[b]['labels'][cols.to(logits.device)]] = 1
    select = class_valid[:, None, :].expand_as(logits)
    loss_ce = _focal_sum(logits[select], onehot[select], cfg['focal_alpha']) / num_instances
    batch_idx = torch.cat([torch.full_like(r, b) for b, (r, _) in enumerate(indices)])
    query_idx = torch.cat([r for r, _ in indices])
    pred_boxes = boxes[batch_idx, query_idx]
    gt_boxes = torch.cat([t['boxes'][c] for t, (_, c) in zip(targets, indices)])
    losses = dict(
        loss_ce=cfg['class_weight'] * loss_ce,
        loss_bbox=cfg['bbox_weight'] * F.l1_loss(pred_boxes, gt_boxes, reduction='sum') /
        num_instances,
        loss_giou=cfg['giou_weight'] * (1 - bbox_overlaps(
            bbox_cxcywh_to_xyxy(pred_boxes),
            bbox_cxcywh_to_xyxy(gt_boxes),
            mode='giou',
            is_aligned=True)).sum() / num_instances)
    if keypoints is not None:
        pred = keypoints[batch_idx, query_idx]
        gt_kpt = torch.cat([t['keypoints'][c] for t, (_, c) in zip(targets, indices)])
        vis = torch.cat([t['visible'][c] for t, (_, c) in zip(targets, indices)])
        area = torch.cat([t['area'][c] for t, (_, c) in zip(targets, indices)])
        l1 = ((pred - gt_kpt).abs() * vis[..., None]).sum()
        losses['loss_keypoints'] = cfg['keypoint_weight'] * l1 / num_instances
        losses['loss_oks'] = cfg['oks_weight'] * (
            1 - _oks(pred, gt_kpt, vis, area, sigmas)).sum() / num_instances
    return losses
