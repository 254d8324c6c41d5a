"""Keypoint match costs for mmdet's ``HungarianAssigner``.

mmdet ships the class/box costs (``FocalLossCost``, ``BBoxL1Cost``, ``IoUCost``) but none for
keypoints, so these two plug into the same assigner through mmdet's ``BaseMatchCost`` interface
(``__call__(pred_instances, gt_instances, img_meta) -> [num_pred, num_gt]``). They follow the
ED-Pose/UniPose matcher: a keypoint L1 term over the labelled keypoints and a ``1 - OKS`` term.

The OKS is the COCO one (as in mmpose's ``OKSLoss`` and xtcocotools):
``exp(-d² / (2 · area · (2σ_k)²))`` averaged over the labelled keypoints. The per-keypoint σ come
from ``img_meta['keypoint_sigmas']`` (set by the pose criterion), so the costs work for any K.
"""
from typing import Optional

import torch
from mmdet.models.task_modules.assigners.match_cost import BaseMatchCost
from mmengine.structures import InstanceData
from torch import Tensor

from mmvisionllm.registry import TASK_UTILS

__all__ = ['KeypointL1Cost', 'KeypointOKSCost', 'keypoint_oks_matrix']


def keypoint_oks_matrix(pred: Tensor,
                        gt: Tensor,
                        visible: Tensor,
                        areas: Tensor,
                        sigmas: Tensor,
                        eps: float = 1e-6) -> Tensor:
    """COCO object keypoint similarity of every prediction with every ground truth.

    Args:
        pred (Tensor): [P, K, 2] predicted keypoints (pixels).
        gt (Tensor): [G, K, 2] ground-truth keypoints (pixels).
        visible (Tensor): [G, K] 1 where a ground-truth keypoint is labelled.
        areas (Tensor): [G] ground-truth object areas (pixels²).
        sigmas (Tensor): [K] per-keypoint falloff σ (COCO convention, e.g. 0.079 for shoulders).
        eps (float): Numerical floor for the area and the visible count.

    Returns:
        Tensor: [P, G] OKS in [0, 1].
    """
    sq_dist = (pred[:, None] - gt[None]).pow(2).sum(-1)  # [P, G, K]
    var = (2 * sigmas).pow(2)[None, None] * areas.clamp(min=eps)[None, :, None]
    sim = torch.exp(-sq_dist / (2 * var))
    vis = visible.float()[None]
    return (sim * vis).sum(-1) / vis.sum(-1).clamp(min=eps)


@TASK_UTILS.register_module()
class KeypointL1Cost(BaseMatchCost):
    """Mean L1 distance of the labelled keypoints, in image-normalised coordinates.

    ``pred_instances.keypoints`` [P, K, 2] and ``gt_instances.keypoints`` [G, K, 2] are pixels of
    ``img_meta['img_shape']``; ``gt_instances.keypoints_visible`` [G, K] marks labelled keypoints.

    Args:
        weight (float): Cost weight. Defaults to 1.
    """

    def __call__(self,
                 pred_instances: InstanceData,
                 gt_instances: InstanceData,
                 img_meta: Optional[dict] = None,
                 **kwargs) -> Tensor:
        """Return the [P, G] weighted cost matrix."""
        img_h, img_w = img_meta['img_shape'][:2]
        scale = pred_instances.keypoints.new_tensor([img_w, img_h])
        pred = pred_instances.keypoints / scale
        gt = gt_instances.keypoints / scale
        vis = gt_instances.keypoints_visible.float()
        dist = (pred[:, None] - gt[None]).abs().sum(-1)  # [P, G, K]
        cost = (dist * vis[None]).sum(-1) / vis.sum(-1).clamp(min=1)[None]
        return cost * self.weight


@TASK_UTILS.register_module()
class KeypointOKSCost(BaseMatchCost):
    """``1 - OKS`` between predicted and ground-truth keypoints.

    Needs ``gt_instances.areas`` [G] (pixels²) and ``img_meta['keypoint_sigmas']`` [K].

    Args:
        weight (float): Cost weight. Defaults to 1.
    """

    def __call__(self,
                 pred_instances: InstanceData,
                 gt_instances: InstanceData,
                 img_meta: Optional[dict] = None,
                 **kwargs) -> Tensor:
        """Return the [P, G] weighted cost matrix."""
        sigmas = torch.as_tensor(
            img_meta['keypoint_sigmas'],
            dtype=pred_instances.keypoints.dtype,
            device=pred_instances.keypoints.device)
        oks = keypoint_oks_matrix(pred_instances.keypoints, gt_instances.keypoints,
                                  gt_instances.keypoints_visible, gt_instances.areas, sigmas)
        return (1 - oks) * self.weight
