"""Set-prediction loss of the pose decoder (mmpose 1.3's ``EDPoseHead`` has no training loss).

Each prediction stage is matched one-to-one to the ground truth with mmdet's ``HungarianAssigner``
(object stages with the class/box costs only, pose stages also with the keypoint costs of
``match_costs.py``) and then scored with the UniPose/ED-Pose terms, paper weights:
classification focal 2, box L1 5, GIoU 2, keypoint L1 10, plus ED-Pose's OKS loss (4) and a
visibility BCE on the keypoint logits (2) that gives the keypoint scores.

Reused: mmdet's ``HungarianAssigner``, ``FocalLoss``, ``L1Loss``, ``GIoULoss``,
``CrossEntropyLoss``, box converters and ``reduce_mean`` (so multi-GPU normalisation matches DINO);
mmpose's ``OKSLoss`` (called on σ-scaled coordinates so one module serves any keypoint set).
Ours: the bookkeeping over stages and the keypoint targets.

Logged keys: the final stage's ``loss_cls, loss_bbox, loss_iou, loss_kpt, loss_oks, loss_vis``; the
same terms summed over the auxiliary stages (object layers, keypoint init, earlier pose layers) as
``loss_<x>_aux``; the two-stage proposals as ``loss_<x>_enc``.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy, bbox_xyxy_to_cxcywh
from mmdet.utils import reduce_mean
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from mmvisionllm.registry import MODELS, TASK_UTILS

__all__ = ['UniPoseCriterion']


@MODELS.register_module()
class UniPoseCriterion(BaseModule):
    """Hungarian matching + detection and keypoint losses over all prediction stages.

    Args:
        assigner (dict): Assigner of the pose stages (class, box and keypoint costs).
        box_assigner (dict): Assigner of the object-only stages (class and box costs).
        loss_cls (dict): Classification loss on the prompt logits (one-hot targets).
        loss_bbox (dict): L1 loss on normalised (cx, cy, w, h).
        loss_iou (dict): IoU loss on pixel (x1, y1, x2, y2).
        loss_kpt (dict): L1 loss on normalised keypoints, labelled keypoints only.
        loss_oks (dict, optional): ``mmpose.OKSLoss`` config (built without metainfo; σ are applied
            here). None disables it.
        loss_vis (dict, optional): Binary loss of the keypoint visibility logits. None disables it.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 assigner: dict,
                 box_assigner: dict,
                 loss_cls: dict,
                 loss_bbox: dict,
                 loss_iou: dict,
                 loss_kpt: dict,
                 loss_oks: Optional[dict] = None,
                 loss_vis: Optional[dict] = None,
                 init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.assigner = TASK_UTILS.build(assigner)
        self.box_assigner = TASK_UTILS.build(box_assigner)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_bbox = MODELS.build(loss_bbox)
        self.loss_iou = MODELS.build(loss_iou)
        self.loss_kpt = MODELS.build(loss_kpt)
        self.loss_oks = MODELS.build(loss_oks) if loss_oks else None
        self.loss_vis = MODELS.build(loss_vis) if loss_vis else None

    def _assign(self, out: Dict[str, Tensor], b: int, gt: InstanceData, img_hw: Tuple[int, int],
                sigmas: Tensor) -> Tensor:
        """Match the predictions of sample ``b``; returns [n] long, the 1-based gt index or 0."""
        img_h, img_w = img_hw
        scale = out['boxes'].new_tensor([img_w, img_h, img_w, img_h])
        pred = InstanceData(
            scores=out['cls'][b].detach(),
            bboxes=bbox_cxcywh_to_xyxy(out['boxes'][b].detach()) * scale)
        assigner = self.box_assigner
        if 'kpts' in out:
            pred.keypoints = out['kpts'][b].detach() * scale[:2]
            assigner = self.assigner
        meta = dict(img_shape=(img_h, img_w), keypoint_sigmas=sigmas)
        return assigner.assign(pred, gt, img_meta=meta).gt_inds

    def stage_losses(self, out: Dict[str,
                                     Tensor], obj_mask: Tensor, batch_gt: Sequence[InstanceData],
                     img_shapes: Sequence[Tuple[int, int]], sigmas: Tensor) -> Dict[str, Tensor]:
        """Losses of one prediction stage.

        Args:
            out (dict): ``cls`` [B, n, T_o], ``boxes`` [B, n, 4] normalised (cx, cy, w, h); optional
                ``kpts`` [B, n, K, 2] normalised and ``kpt_logits`` [B, n, K].
            obj_mask (Tensor): [B, T_o] bool, True where the object-class prompt exists.
            batch_gt (Sequence[InstanceData]): per sample ``bboxes`` [G, 4] pixel xyxy, ``labels``
                [G], ``keypoints`` [G, K, 2] pixels, ``keypoints_visible`` [G, K], ``areas`` [G].
            img_shapes (Sequence[tuple]): per sample (h, w) of the decoder view.
            sigmas (Tensor): [K] keypoint σ.

        Returns:
            dict: ``cls, bbox, iou`` and for pose stages ``kpt, oks, vis`` (scalars).
        """
        cls = out['cls']
        cls_targets = torch.zeros_like(cls)
        # absent prompts carry no loss
        cls_weights = obj_mask[:, None, :].expand_as(cls).float()
        pos_pred, pos_gt = [], []
        for b, gt in enumerate(batch_gt):
            gt_inds = self._assign(out, b, gt, img_shapes[b], sigmas)
            q = (gt_inds > 0).nonzero(as_tuple=False).squeeze(1)
            g = gt_inds[q] - 1
            cls_targets[b, q, gt.labels[g]] = 1.
            pos_pred.append(q)
            pos_gt.append(g)
        num_pos = sum(len(q) for q in pos_pred)
        avg = reduce_mean(cls.new_tensor(float(num_pos))).clamp(min=1.).item()

        losses = dict(
            cls=self.loss_cls(
                cls.flatten(0, 1),
                cls_targets.flatten(0, 1),
                cls_weights.flatten(0, 1),
                avg_factor=avg))

        def gather(key: str) -> Tensor:
            return torch.cat([out[key][b, q] for b, q in enumerate(pos_pred)])

        def gt_field(key: str) -> Tensor:
            return torch.cat([gt.get(key)[g] for gt, g in zip(batch_gt, pos_gt)])

        scales = torch.cat([
            cls.new_tensor([w, h, w, h]).expand(len(q), 4)
            for (h, w), q in zip(img_shapes, pos_pred)
        ])
        pred_boxes = gather('boxes')
        gt_boxes = gt_field('bboxes')
        losses['bbox'] = self.loss_bbox(
            pred_boxes, bbox_xyxy_to_cxcywh(gt_boxes / scales), avg_factor=avg)
        losses['iou'] = self.loss_iou(
            bbox_cxcywh_to_xyxy(pred_boxes) * scales, gt_boxes, avg_factor=avg)
        if 'kpts' not in out:
            return losses

        pred_kpts = gather('kpts') * scales[:, None, :2]  # pixels, [P, K, 2]
        gt_kpts = gt_field('keypoints')
        vis = gt_field('keypoints_visible').float()
        kpt_scale = scales[:, None, :2]
        losses['kpt'] = self.loss_kpt(
            pred_kpts / kpt_scale,
            gt_kpts / kpt_scale,
            vis[..., None].expand_as(gt_kpts),
            avg_factor=avg)
        if self.loss_oks is not None:
            norm = 2 * sigmas.view(1, -1, 1)
            per_obj = self.loss_oks(pred_kpts / norm, gt_kpts / norm, vis, gt_field('areas'))
            losses['oks'] = per_obj.sum() / avg
        if self.loss_vis is not None:
            losses['vis'] = self.loss_vis(gather('kpt_logits'), vis, avg_factor=avg * vis.size(-1))
        return losses

    def forward(self, outputs: List[Dict[str, Tensor]], enc_out: Optional[Dict[str, Tensor]],
                obj_mask: Tensor, batch_gt: Sequence[InstanceData],
                img_shapes: Sequence[Tuple[int, int]], sigmas: Tensor) -> Dict[str, Tensor]:
        """Sum the losses of all stages.

        Args:
            outputs (list[dict]): decoder stages, the last one is the final prediction.
            enc_out (dict, optional): ``cls`` / ``boxes`` of the selected proposals.
            obj_mask, batch_gt, img_shapes, sigmas: see :meth:`stage_losses`.

        Returns:
            dict[str, Tensor]: ``loss_<x>`` (final), ``loss_<x>_aux`` (sum over the other decoder
            stages) and ``loss_<x>_enc``.
        """
        losses: Dict[str, Tensor] = {}
        for name, value in self.stage_losses(outputs[-1], obj_mask, batch_gt, img_shapes,
                                             sigmas).items():
            losses[f'loss_{name}'] = value
        for out in outputs[:-1]:
            for name, value in self.stage_losses(out, obj_mask, batch_gt, img_shapes,
                                                 sigmas).items():
                key = f'loss_{name}_aux'
                losses[key] = losses[key] + value if key in losses else value
        if enc_out is not None:
            for name, value in self.stage_losses(enc_out, obj_mask, batch_gt, img_shapes,
                                                 sigmas).items():
                losses[f'loss_{name}_enc'] = value
        return losses
