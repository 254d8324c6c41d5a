"""Point-sampled mask losses of the official VisionLLM v2 GDINO training (Mask2Former recipe).

For every matched (query, ground truth) pair: 12544 points, 3x oversampled, 75 % of them the most
uncertain (|logit| smallest) and the rest uniform; the predicted 1/4-scale mask logits and the
full-resolution target mask are read at those points (bilinear); sigmoid cross-entropy (mean over
points) and dice, each summed over the pairs and divided by the number of boxes.

Reused from transformers' Mask2Former (the same formulas the official code copies):
``sample_point``, ``sigmoid_cross_entropy_loss``, ``dice_loss`` and
``Mask2FormerLoss.sample_points_using_uncertainty`` / ``calculate_uncertainty`` (they use no
state of the loss object; called as plain functions).
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from transformers.models.mask2former.modeling_mask2former import (Mask2FormerLoss, dice_loss,
                                                                  sample_point,
                                                                  sigmoid_cross_entropy_loss)

__all__ = ['point_mask_losses']


def point_mask_losses(pred_masks: Tensor,
                      target_masks: Sequence[Optional[Tensor]],
                      indices: List[Tuple[Tensor, Tensor]],
                      num_masks: float,
                      num_points: int = 12544,
                      oversample_ratio: float = 3.0,
                      importance_sample_ratio: float = 0.75) -> Tuple[Tensor, Tensor]:
    """Mask BCE and dice of the matched pairs.

    Args:
        pred_masks (Tensor): [B, Q, h, w] mask logits (1/4 of the padded image).
        target_masks (Sequence[Tensor | None]): per sample [n_i, H, W] binary masks on the padded
            image, or None for a sample without mask annotation (its pairs are left out).
        indices (list[tuple[Tensor, Tensor]]): per sample (query index, target index).
        num_masks (float): normaliser (the number of boxes, as the official loss).
        num_points (int): points per mask.
        oversample_ratio (float): candidates per point for the uncertainty selection.
        importance_sample_ratio (float): share of the points chosen by uncertainty.

    Returns:
        tuple[Tensor, Tensor]: ``loss_mask`` and ``loss_dice`` (zero-valued terms on the graph
        when no pair has a mask).
    """
    src, tgt = [], []
    for b, (query_idx, target_idx) in enumerate(indices):
        if target_masks[b] is None or len(query_idx) == 0:
            continue
        src.append(pred_masks[b, query_idx.to(pred_masks.device)])
        tgt.append(target_masks[b][target_idx.to(target_masks[b].device)].to(pred_masks))
    if not src:
        zero = pred_masks.sum() * 0.0
        return zero, zero
    src_masks = torch.cat(src)[:, None]
    tgt_masks = torch.cat(tgt)[:, None]
    with torch.no_grad():
        coords = Mask2FormerLoss.sample_points_using_uncertainty(
            None, src_masks, lambda logits: Mask2FormerLoss.calculate_uncertainty(None, logits),
            num_points, oversample_ratio, importance_sample_ratio)
        point_labels = sample_point(tgt_masks, coords, align_corners=False).squeeze(1)
    point_logits = sample_point(src_masks, coords, align_corners=False).squeeze(1)
    return (sigmoid_cross_entropy_loss(point_logits, point_labels,
                                       num_masks), dice_loss(point_logits, point_labels, num_masks))
