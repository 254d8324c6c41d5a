"""Instance-mask branch for DINO-family detectors: query embedding · 1/4-resolution pixel features.

VisionLLM v2 turns its Grounding DINO decoder into a segmenter the Mask DINO way: a pixel map at 1/4
of the input is built from the backbone's stride-4 feature plus the upsampled stride-8 level of the
transformer encoder's memory, and each decoder query predicts its mask as the dot product of an MLP
embedding of its hidden state with that map. Losses are BCE and dice (weights 5 and 5 in the paper),
computed on points sampled as in Mask2Former (importance sampling around uncertain logits).

Reused from mmdet/mmcv: ``ConvModule`` (lateral/output convs), mmdet's ``MLP`` (mask embedding),
``point_sample`` and ``get_uncertain_point_coords_with_randomness`` (Mask2Former's point sampling),
``CrossEntropyLoss``/``DiceLoss`` (the mask losses), ``reduce_mean``. The matching side lives in
:mod:`.mask_assigner`; this module prepares its inputs (:meth:`DETRMaskHead.match_inputs`).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.ops import point_sample
from mmdet.models.layers import MLP
from mmdet.models.task_modules import AssignResult
from mmdet.models.utils import get_uncertain_point_coords_with_randomness
from mmdet.utils import reduce_mean
from mmengine.model import BaseModule
from torch import Tensor

from mmvisionllm.registry import MODELS

__all__ = ['DETRMaskHead']


@MODELS.register_module()
class DETRMaskHead(BaseModule):
    """Pixel decoder, mask embedding, point-sampled mask losses and mask post-processing.

    Args:
        in_channels (int): Channels of the backbone's stride-4 feature map.
        embed_dims (int): Width of the decoder queries and of the pixel map. Defaults to 256.
        num_points (int): Points sampled per mask for the loss and for matching. Defaults to 12544
            (Mask2Former); a tiny model on 128×128 images can use about 1024.
        oversample_ratio (float): Mask2Former's oversampling before importance sampling.
        importance_sample_ratio (float): Share of the loss points taken at uncertain logits.
        mask_threshold (float): Probability above which a pixel is in the predicted mask.
        loss_mask (dict): mmdet config of the per-point BCE loss (weight 5).
        loss_dice (dict): mmdet config of the dice loss (weight 5).
        norm_cfg (dict): Norm of the pixel decoder convs. Defaults to GN with 32 groups.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dims: int = 256,
                 num_points: int = 12544,
                 oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.75,
                 mask_threshold: float = 0.5,
                 loss_mask: dict = dict(
                     type='mmdet.CrossEntropyLoss',
                     use_sigmoid=True,
                     reduction='mean',
                     loss_weight=5.0),
                 loss_dice: dict = dict(
                     type='mmdet.DiceLoss',
                     use_sigmoid=True,
                     activate=True,
                     reduction='mean',
                     naive_dice=True,
                     eps=1.0,
                     loss_weight=5.0),
                 norm_cfg: dict = dict(type='GN', num_groups=32),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.embed_dims = embed_dims
        self.num_points = num_points
        self.oversample_ratio = oversample_ratio
        self.importance_sample_ratio = importance_sample_ratio
        self.mask_threshold = mask_threshold
        self.lateral_conv = ConvModule(in_channels, embed_dims, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.output_conv = ConvModule(
            embed_dims, embed_dims, 3, padding=1, norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))
        self.mask_embed = MLP(embed_dims, embed_dims, embed_dims, 3)
        self.loss_mask = MODELS.build(loss_mask)
        self.loss_dice = MODELS.build(loss_dice)

    def pixel_features(self, pixel_feat: Tensor, memory: Tensor, spatial_shapes: Tensor) -> Tensor:
        """Build the 1/4-resolution pixel map.

        Args:
            pixel_feat (Tensor): [B, in_channels, H/4, W/4] backbone feature.
            memory (Tensor): [B, sum_l(h_l * w_l), C] transformer encoder output; level 0 (the
                finest, stride 8) is used.
            spatial_shapes (Tensor): [num_levels, 2] (h, w) of each memory level.

        Returns:
            Tensor: [B, C, H/4, W/4] pixel features.
        """
        h, w = (int(v) for v in spatial_shapes[0])
        batch_size, _, channels = memory.shape
        coarse = memory[:, :h * w].transpose(1, 2).reshape(batch_size, channels, h, w)
        coarse = F.interpolate(
            coarse, size=pixel_feat.shape[-2:], mode='bilinear', align_corners=False)
        return self.output_conv(self.lateral_conv(pixel_feat) + coarse)

    def forward(self, queries: Tensor, mask_features: Tensor) -> Tensor:
        """Mask logits of queries.

        Args:
            queries (Tensor): [..., B, Q, C] decoder hidden states (any leading dims, e.g. layers).
            mask_features (Tensor): [B, C, h, w] pixel features.

        Returns:
            Tensor: [..., B, Q, h, w] mask logits.
        """
        return torch.einsum('...bqc,bchw->...bqhw', self.mask_embed(queries), mask_features)

    def match_inputs(self, mask_pred: Tensor, gt_masks: Tensor) -> dict:
        """Mask logits and targets at shared random points, for the matching costs of one image.

        Args:
            mask_pred (Tensor): [Q, h, w] mask logits of the matching queries.
            gt_masks (Tensor): [n, H, W] 0/1 target masks on the same (padded) canvas.

        Returns:
            dict: ``pred_masks`` [Q, P] logits and ``gt_masks`` [n, P] targets.
        """
        coords = self.match_points(mask_pred.device)
        with torch.no_grad():
            pred = point_sample(mask_pred.unsqueeze(1), coords.expand(mask_pred.shape[0], -1,
                                                                      -1)).squeeze(1)
            gt = point_sample(
                gt_masks.unsqueeze(1).float(), coords.expand(gt_masks.shape[0], -1, -1)).squeeze(1)
        return dict(pred_masks=pred, gt_masks=gt)

    def match_points(self, device: torch.device) -> Tensor:
        """[1, num_points, 2] random points in [0, 1]² shared by the masks of one image."""
        return torch.rand((1, self.num_points, 2), device=device)

    def loss_points(self, preds: Tensor) -> Tensor:
        """[n, num_points, 2] loss points of n matched mask logits [n, h, w] (Mask2Former)."""
        return get_uncertain_point_coords_with_randomness(
            preds.unsqueeze(1), None, self.num_points, self.oversample_ratio,
            self.importance_sample_ratio)

    def loss(self, mask_preds: Tensor, batch_gt_masks: Sequence[Optional[Tensor]],
             assign_results: Sequence[Optional[AssignResult]]) -> Tuple[Tensor, Tensor]:
        """BCE and dice losses of the matched queries of one decoder layer.

        Args:
            mask_preds (Tensor): [B, Q, h, w] mask logits.
            batch_gt_masks (list[Tensor | None]): per image [n, H, W] target masks, None for images
                without mask supervision.
            assign_results (list[AssignResult | None]): per image the matching of the queries.

        Returns:
            tuple[Tensor, Tensor]: ``loss_mask`` and ``loss_dice``.
        """
        preds: List[Tensor] = []
        targets: List[Tensor] = []
        for mask_pred, gt_masks, result in zip(mask_preds, batch_gt_masks, assign_results):
            if gt_masks is None or result is None:
                continue
            pos_inds = torch.nonzero(result.gt_inds > 0, as_tuple=False).squeeze(-1)
            preds.append(mask_pred[pos_inds])
            targets.append(gt_masks[result.gt_inds[pos_inds] - 1])
        num_masks = sum(len(p) for p in preds)
        avg_factor = reduce_mean(mask_preds.new_tensor([float(num_masks)])).clamp(min=1).item()
        if num_masks == 0:
            # zero losses in the graph, through the loss modules all the same: DeepSpeed ZeRO-3
            # checks that every rank ran the same modules in the same order (its prefetch trace)
            empty = (mask_preds.sum() * 0.0).expand(0, self.num_points)  # [0, num_points]
            loss_dice = self.loss_dice(empty, empty.detach(), avg_factor=avg_factor)
            loss_mask = self.loss_mask(
                empty.reshape(-1),
                empty.detach().reshape(-1),
                avg_factor=avg_factor * self.num_points)
            return loss_mask, loss_dice
        preds = torch.cat(preds)
        targets = torch.cat(targets).float()
        with torch.no_grad():
            coords = self.loss_points(preds)
            point_targets = point_sample(targets.unsqueeze(1), coords).squeeze(1)
        point_preds = point_sample(preds.unsqueeze(1), coords).squeeze(1)
        loss_dice = self.loss_dice(point_preds, point_targets, avg_factor=avg_factor)
        loss_mask = self.loss_mask(
            point_preds.reshape(-1),
            point_targets.reshape(-1),
            avg_factor=avg_factor * self.num_points)
        return loss_mask, loss_dice

    def predict_masks(self, mask_logits: Tensor, img_meta: dict, rescale: bool = True) -> Tensor:
        """Binary masks of one image in the original image (or the decoder view) coordinates.

        Args:
            mask_logits (Tensor): [k, h, w] logits at 1/4 of the padded batch input.
            img_meta (dict): needs ``batch_input_shape``, ``img_shape`` and, when ``rescale``,
                ``ori_shape``.
            rescale (bool): Resize to ``ori_shape`` (else stay at ``img_shape``).

        Returns:
            Tensor: [k, H, W] bool masks.
        """
        img_h, img_w = img_meta['img_shape'][:2]
        out_h, out_w = img_meta['ori_shape'][:2] if rescale else (img_h, img_w)
        if mask_logits.shape[0] == 0:
            return mask_logits.new_zeros((0, out_h, out_w), dtype=torch.bool)
        pad_h, pad_w = img_meta.get('batch_input_shape', img_meta.get('pad_shape', (img_h, img_w)))
        masks = F.interpolate(
            mask_logits.unsqueeze(0), size=(pad_h, pad_w), mode='bilinear', align_corners=False)
        masks = masks[:, :, :img_h, :img_w]
        if (out_h, out_w) != (img_h, img_w):
            masks = F.interpolate(masks, size=(out_h, out_w), mode='bilinear', align_corners=False)
        return masks.squeeze(0).sigmoid() > self.mask_threshold
