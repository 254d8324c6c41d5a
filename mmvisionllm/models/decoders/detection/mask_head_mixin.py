"""Adds the instance-mask branch to mmdet's DINO-family heads (``DINOHead``, ``GroundingDINOHead``).

Reused: everything of the mmdet head — ``split_outputs`` (denoising vs matching queries),
``loss_by_feat_single`` (targets, focal/L1/GIoU losses of one layer), ``loss_dn`` (denoising
losses), the encoder-proposal loss and the assigner built from ``train_cfg``. What is added: the
decoder-layer loop, which mmdet runs with ``multi_apply`` and the same ``img_metas`` for every
layer, now gives each layer's ``img_metas`` the point-sampled mask logits of that layer, so that
:class:`~.mask_assigner.MaskAwareHungarianAssigner` matches with the mask costs too; the mask
BCE/dice losses of :class:`~.mask_head.DETRMaskHead` then use that same assignment. The loss keys
follow mmdet (``loss_cls``, ``d0.loss_bbox``, ``enc_loss_iou``, ``dn_loss_cls`` ...) plus
``loss_mask``, ``loss_dice`` and ``d{i}.loss_mask``/``d{i}.loss_dice``.

How the mask costs reach the assigner: mmdet hands each image's ``img_meta`` unchanged from
``loss_by_feat_single`` through ``get_targets`` to ``assigner.assign(..., img_meta=...)``, and that
dict is the only per-image channel into the assigner without rewriting mmdet's target code. So the
layer loop puts the mask inputs under ``img_meta[MASK_MATCH_KEY]`` of a per-layer copy of the metas
and the assigner writes its ``assign_result`` back there for the mask losses
(:mod:`.mask_assigner` documents the entry).

Prediction keeps mmdet's post-processing (top-k over queries × classes, cxcywh → xyxy in the decoder
view, clamp, divide by ``scale_factor``) but also returns the index of the query behind each
detection, which the mask branch needs and mmdet's ``_predict_by_feat_single`` does not expose.
"""
from typing import Dict, List, Optional

import torch
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from mmengine.structures import InstanceData
from torch import Tensor

from mmvisionllm.registry import MODELS
from .mask_assigner import MASK_MATCH_KEY, MaskAwareHungarianAssigner

__all__ = ['MaskHeadMixin']


class MaskHeadMixin:
    """Mixin for mmdet ``DINOHead`` subclasses; put it before the mmdet class in the bases."""

    def _init_mask_branch(self, mask_head: Optional[dict]) -> None:
        """Build the mask branch (None: a plain box head)."""
        self.mask_head = MODELS.build(mask_head) if mask_head is not None else None
        if self.mask_head is not None and self.train_cfg is not None and \
                not isinstance(self.assigner, MaskAwareHungarianAssigner):
            raise TypeError('a head with a mask branch needs train_cfg.assigner of type '
                            'mmvisionllm.MaskAwareHungarianAssigner (mask costs in the matching)')

    @property
    def with_mask(self) -> bool:
        """Whether the head has a mask branch."""
        return getattr(self, 'mask_head', None) is not None

    def mask_features(self, mask_inputs: Optional[dict]) -> Optional[Tensor]:
        """[B, C, H/4, W/4] pixel features from the detector's ``mask_inputs`` (or None)."""
        if not self.with_mask or mask_inputs is None:
            return None
        return self.mask_head.pixel_features(**mask_inputs)

    def matching_mask_preds(self, hidden_states: Tensor, mask_features: Optional[Tensor],
                            dn_meta: Optional[dict]) -> Optional[Tensor]:
        """[L, B, Q, h, w] mask logits of the matching (non-denoising) queries of every layer."""
        if mask_features is None:
            return None
        if dn_meta is not None:
            hidden_states = hidden_states[:, :, dn_meta['num_denoising_queries']:]
        return self.mask_head(hidden_states, mask_features)

    def loss_with_mask_branch(self, head_outs: tuple, hidden_states: Tensor,
                              enc_outputs_class: Tensor, enc_outputs_coord: Tensor,
                              batch_data_samples: list, dn_meta: Dict[str, int],
                              mask_inputs: Optional[dict]) -> Dict[str, Tensor]:
        """The losses of a batch from the head's outputs: what both heads' ``loss`` share.

        Args:
            head_outs (tuple): ``(all_layers_cls_scores, all_layers_bbox_preds)`` of the head's
                ``forward``, [L, B, Q_dn + Q, K] and [L, B, Q_dn + Q, 4].
            hidden_states (Tensor): [L, B, Q_dn + Q, C] decoder outputs (the mask queries).
            enc_outputs_class (Tensor): [B, Q, K] encoder proposal logits.
            enc_outputs_coord (Tensor): [B, Q, 4] encoder proposal boxes.
            batch_data_samples (list): samples with ``gt_instances`` (``masks`` optional).
            dn_meta (dict): denoising bookkeeping.
            mask_inputs (dict, optional): inputs of the mask branch's pixel decoder.

        Returns:
            dict[str, Tensor]: the losses (see :meth:`loss_by_feat`).
        """
        batch_gt_instances = [sample.gt_instances for sample in batch_data_samples]
        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        mask_preds = self.matching_mask_preds(hidden_states, self.mask_features(mask_inputs),
                                              dn_meta)
        return self.loss_by_feat(
            *head_outs,
            enc_outputs_class,
            enc_outputs_coord,
            batch_gt_instances,
            batch_img_metas,
            dn_meta,
            all_layers_mask_preds=mask_preds)

    def loss_by_feat(self,
                     all_layers_cls_scores: Tensor,
                     all_layers_bbox_preds: Tensor,
                     enc_cls_scores: Tensor,
                     enc_bbox_preds: Tensor,
                     batch_gt_instances: List[InstanceData],
                     batch_img_metas: List[dict],
                     dn_meta: Dict[str, int],
                     batch_gt_instances_ignore: Optional[list] = None,
                     all_layers_mask_preds: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """mmdet's DINO losses, plus mask losses and mask-aware matching when masks are given.

        Args:
            all_layers_cls_scores (Tensor): [L, B, Q_dn + Q, K] class logits.
            all_layers_bbox_preds (Tensor): [L, B, Q_dn + Q, 4] normalised cxcywh boxes.
            enc_cls_scores (Tensor): [B, Q, K] logits of the selected encoder proposals.
            enc_bbox_preds (Tensor): [B, Q, 4] boxes of the selected encoder proposals.
            batch_gt_instances (list[InstanceData]): ``bboxes``, ``labels`` and, for images with
                mask supervision, ``masks`` (mmdet masks padded to the batch input).
            batch_img_metas (list[dict]): image meta information.
            dn_meta (dict): denoising query bookkeeping of mmdet's ``CdnQueryGenerator``.
            batch_gt_instances_ignore (list, optional): unused, as in mmdet.
            all_layers_mask_preds (Tensor, optional): [L, B, Q, h, w] mask logits of the matching
                queries; None gives exactly mmdet's losses.

        Returns:
            dict[str, Tensor]: the losses.
        """
        if all_layers_mask_preds is None:
            return super().loss_by_feat(all_layers_cls_scores, all_layers_bbox_preds,
                                        enc_cls_scores, enc_bbox_preds, batch_gt_instances,
                                        batch_img_metas, dn_meta, batch_gt_instances_ignore)
        (matching_cls, matching_bbox, denoising_cls,
         denoising_bbox) = self.split_outputs(all_layers_cls_scores, all_layers_bbox_preds, dn_meta)
        device = all_layers_mask_preds.device
        batch_gt_masks = [
            gt.masks.to_tensor(dtype=torch.bool, device=device) if 'masks' in gt else None
            for gt in batch_gt_instances
        ]
        losses: Dict[str, Tensor] = {}
        num_layers = matching_cls.shape[0]
        for layer in range(num_layers):
            layer_metas = []
            for meta, mask_pred, gt_masks in zip(batch_img_metas, all_layers_mask_preds[layer],
                                                 batch_gt_masks):
                meta = dict(meta)
                if gt_masks is not None:
                    meta[MASK_MATCH_KEY] = self.mask_head.match_inputs(mask_pred, gt_masks)
                layer_metas.append(meta)
            loss_cls, loss_bbox, loss_iou = self.loss_by_feat_single(matching_cls[layer],
                                                                     matching_bbox[layer],
                                                                     batch_gt_instances,
                                                                     layer_metas)
            assign_results = [
                meta.get(MASK_MATCH_KEY, {}).get('assign_result') for meta in layer_metas
            ]
            loss_mask, loss_dice = self.mask_head.loss(all_layers_mask_preds[layer], batch_gt_masks,
                                                       assign_results)
            prefix = '' if layer == num_layers - 1 else f'd{layer}.'
            losses.update({
                f'{prefix}loss_cls': loss_cls,
                f'{prefix}loss_bbox': loss_bbox,
                f'{prefix}loss_iou': loss_iou,
                f'{prefix}loss_mask': loss_mask,
                f'{prefix}loss_dice': loss_dice
            })
        if enc_cls_scores is not None:
            enc_cls, enc_bbox, enc_iou = self.loss_by_feat_single(enc_cls_scores, enc_bbox_preds,
                                                                  batch_gt_instances,
                                                                  batch_img_metas)
            losses.update(enc_loss_cls=enc_cls, enc_loss_bbox=enc_bbox, enc_loss_iou=enc_iou)
        if denoising_cls is not None:
            dn_cls, dn_bbox, dn_iou = self.loss_dn(
                denoising_cls,
                denoising_bbox,
                batch_gt_instances=batch_gt_instances,
                batch_img_metas=batch_img_metas,
                dn_meta=dn_meta)
            for layer in range(num_layers):
                prefix = '' if layer == num_layers - 1 else f'd{layer}.'
                losses.update({
                    f'{prefix}dn_loss_cls': dn_cls[layer],
                    f'{prefix}dn_loss_bbox': dn_bbox[layer],
                    f'{prefix}dn_loss_iou': dn_iou[layer]
                })
        return losses

    def predict_instances(self,
                          scores: Tensor,
                          bbox_pred: Tensor,
                          img_meta: dict,
                          rescale: bool = True,
                          queries: Optional[Tensor] = None,
                          mask_features: Optional[Tensor] = None) -> InstanceData:
        """Top-k detections of one image (and their masks when ``mask_features`` is given).

        Args:
            scores (Tensor): [Q, K] class probabilities.
            bbox_pred (Tensor): [Q, 4] normalised cxcywh boxes.
            img_meta (dict): ``img_shape``, ``scale_factor``, ``ori_shape``, ``batch_input_shape``.
            rescale (bool): Return coordinates in the original image.
            queries (Tensor, optional): [Q, C] last-layer hidden states (for masks).
            mask_features (Tensor, optional): [C, h, w] pixel features of this image.

        Returns:
            InstanceData: ``bboxes`` [k, 4] xyxy, ``scores`` [k], ``labels`` [k] (index into K),
            ``query_index`` [k], sorted by score; plus ``masks`` [k, H, W] bool when asked.
        """
        num_classes = scores.shape[-1]
        max_per_img = min(self.test_cfg.get('max_per_img', scores.numel()), scores.numel())
        top_scores, indexes = scores.flatten().topk(max_per_img)
        query_index = torch.div(indexes, num_classes, rounding_mode='floor')
        img_h, img_w = img_meta['img_shape'][:2]
        bboxes = bbox_cxcywh_to_xyxy(bbox_pred[query_index])
        bboxes[:, 0::2] = (bboxes[:, 0::2] * img_w).clamp(min=0, max=img_w)
        bboxes[:, 1::2] = (bboxes[:, 1::2] * img_h).clamp(min=0, max=img_h)
        if rescale:
            bboxes = bboxes / bboxes.new_tensor(img_meta['scale_factor']).repeat((1, 2))
        results = InstanceData(
            bboxes=bboxes, scores=top_scores, labels=indexes % num_classes, query_index=query_index)
        if mask_features is not None and self.with_mask:
            logits = self.mask_head(queries[query_index][None], mask_features[None])[0]
            results.masks = self.mask_head.predict_masks(logits, img_meta, rescale)
        return results
