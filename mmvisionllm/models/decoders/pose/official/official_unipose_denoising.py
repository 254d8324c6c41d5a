"""Contrastive denoising (CDN) queries of the official VisionLLM v2 UniPose training.

DINO's recipe, with the official UniPose's particulars:

* the ground truth of a batch is repeated in ``G = max(dn_number // max_i n_i, 1)`` groups of
  ``2 * max_i n_i`` queries: the positive copies of the sample's boxes, then their negative
  copies, each sample's rows padded with zero queries (content 0, box ``sigmoid(0)``);
* box noise on the corners of the normalised box: each corner coordinate moves by
  ``u * w / 2`` (x) or ``u * h / 2`` (y) times ``box_noise_scale``, ``|u| < 1`` for a positive
  copy and ``1 <= |u| < 2`` for a negative one, then clamped to [0, 1]; the box query is
  ``inverse_sigmoid(box, eps=1e-3)`` (the UniPose eps);
* label noise: with probability ``label_noise_ratio / 2`` a label is replaced by a random one in
  ``[0, min(labelbook_size, T))``, T = the object slots (official: 2000 and 100 slots), and the
  content of a denoising query is the *class feature of its (noised) label in that sample* (the
  projected object link states ``projection_llava(...).mean``), not a learned label embedding;
* the self-attention mask of the box layers: the matching queries do not see the denoising ones,
  a denoising group sees itself and the matching queries only (mmdet's ``generate_dn_mask``);
* the mask of the pose layers (:func:`dn_pose_attention_mask`): the same denoising block, the
  matching part now ``G_pose * (K + 1)`` queries under the pose-group mask built, in training,
  with ``K + 1``-wide blocks (no pose group sees another), and the matching part blind to the
  denoising queries.

Reused: mmdet's ``CdnQueryGenerator`` (``mmdet/models/layers/transformer/dino_layers.py``): its
group count (``dynamic`` groups with ``num_dn_queries = dn_number`` is the official
``dn_number // max n_i``, at least 1), box noise (the same corner rule and ``eps=1e-3``; it
draws the same random tensors in the same order as the official code), collation (positive
copies at ``g * 2M + j``, negatives at ``g * 2M + M + j``) and box-layer mask are the official
ones. Not
reused: its ``nn.Embedding`` label table (the official content is the per-sample class
feature, so :meth:`OfficialUniPoseCdnGenerator.generate_dn_label_query` looks the noised labels
up in the class features and the unused table is removed, which keeps the checkpoint layout), and
its ``__call__`` over data samples with pixel boxes (ours takes the normalised targets of the
loss, and returns None without any ground truth, as the official code).
"""
from typing import List, Optional

import torch
from mmdet.models.layers.transformer.dino_layers import CdnQueryGenerator
from mmdet.models.layers.transformer.utils import inverse_sigmoid
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from torch import Tensor

from .official_unipose_layers import pose_group_attention_mask
from .official_unipose_query_decoder import EPS

__all__ = ['OfficialUniPoseCdnGenerator', 'dn_pose_attention_mask', 'dn_positive_indices']


def dn_pose_attention_mask(dn_mask: Tensor, num_dn: int, group_valid: Tensor, num_groups: int,
                           num_heads: int) -> Tensor:
    """Self-attention mask of the pose layers with D denoising queries first (True = blocked).

    Args:
        dn_mask (Tensor): [D + Q, D + Q] bool box-layer mask; its [:D, :D] block is kept.
        num_dn (int): D.
        group_valid (Tensor): [B, K + 1] bool/int, 1 for the box query and the used keypoint
            slots of a pose group.
        num_groups (int): pose groups G.
        num_heads (int): attention heads.

    Returns:
        Tensor: [B * num_heads, D + G * (K + 1), D + G * (K + 1)] bool, batch-major; the
        denoising rows see their group and every pose query, the pose rows no denoising query.
    """
    length = group_valid.shape[1]
    matching = pose_group_attention_mask(group_valid, num_groups, num_heads, block_size=length)
    size = num_dn + matching.shape[-1]
    mask = matching.new_zeros((matching.shape[0], size, size))
    mask[:, :num_dn, :num_dn] = dn_mask[:num_dn, :num_dn]
    mask[:, num_dn:, :num_dn] = True
    mask[:, num_dn:, num_dn:] = matching
    return mask


def dn_positive_indices(counts: List[int], num_groups: int, group_size: int,
                        device: torch.device) -> List[tuple]:
    """(query index, target index) of the positive denoising copies of each sample.

    Args:
        counts (list[int]): ground-truth instances n_i of each sample.
        num_groups (int): denoising groups G; group_size (int): 2 x the largest n_i.

    Returns:
        list[tuple[Tensor, Tensor]]: per sample ``g * group_size + j`` and ``j`` (int64), for
        g < G, j < n_i (group-major).
    """
    indices = []
    for n in counts:
        gt = torch.arange(n, device=device).repeat(num_groups)
        group = torch.arange(num_groups, device=device).repeat_interleave(n)
        indices.append((group * group_size + gt, gt))
    return indices


class OfficialUniPoseCdnGenerator(CdnQueryGenerator):
    """mmdet's ``CdnQueryGenerator`` with the official UniPose label queries.

    Args:
        num_classes (int): random-label range, ``min(dn_labelbook_size, object slots)``.
        embed_dims (int): width of the class features (d_model).
        num_matching_queries (int): the two-stage queries that follow the denoising ones (900).
        dn_number (int): denoising queries per polarity before grouping (official 100).
        label_noise_scale (float): the official ``dn_label_noise_ratio`` (0.5).
        box_noise_scale (float): the official ``dn_box_noise_scale`` (1.0).
    """

    def __init__(self,
                 num_classes: int,
                 embed_dims: int,
                 num_matching_queries: int,
                 dn_number: int = 100,
                 label_noise_scale: float = 0.5,
                 box_noise_scale: float = 1.0) -> None:
        # the base class's label table is not used: built on the meta device (no memory, no
        # random draws, so building the decoder draws the same numbers as before) and removed
        with torch.device('meta'):
            super().__init__(
                num_classes,
                embed_dims,
                num_matching_queries,
                label_noise_scale=label_noise_scale,
                box_noise_scale=box_noise_scale,
                group_cfg=dict(dynamic=True, num_dn_queries=max(dn_number, 1)))
        del self.label_embedding

    def generate_dn_label_query(self, gt_labels: Tensor, num_groups: int, class_features: Tensor,
                                batch_idx: Tensor) -> Tensor:
        """Class features of the noised labels.

        Args:
            gt_labels (Tensor): [n] labels of all samples (object slot indices).
            num_groups (int): denoising groups G.
            class_features (Tensor): [B, T, C] projected object link states.
            batch_idx (Tensor): [n] sample of each label.

        Returns:
            Tensor: [n * 2G, C], copy k of the labels at rows ``k * n .. (k + 1) * n``.
        """
        labels = gt_labels.repeat(2 * num_groups, 1).view(-1)
        if self.label_noise_scale > 0:
            p = torch.rand_like(labels.float())
            chosen = torch.nonzero(p < (self.label_noise_scale * 0.5)).view(-1)
            labels = labels.scatter(0, chosen, torch.randint_like(chosen, 0, self.num_classes))
        return class_features[batch_idx.repeat(2 * num_groups), labels]

    def __call__(self, labels: List[Tensor], boxes: List[Tensor],
                 class_features: Tensor) -> Optional[dict]:
        """Denoising queries of a batch.

        Args:
            labels (list[Tensor]): per sample [n_i] object slot indices.
            boxes (list[Tensor]): per sample [n_i, 4] cxcywh normalised by the view size.
            class_features (Tensor): [B, T, C] projected object link states (the label book).

        Returns:
            dict | None: None without any ground truth in the batch; else ``dn_queries``
            [B, D, C], ``dn_boxes`` [B, D, 4] (inverse-sigmoid space), ``dn_attn_mask``
            [D + Q, D + Q] bool (True = blocked), ``num_groups`` G, ``group_size`` 2M and
            ``counts`` n_i; D = G * 2M, M = the largest n_i.
        """
        counts = [int(len(x)) for x in labels]
        max_count = max(counts) if counts else 0
        if max_count == 0:
            return None
        device = class_features.device
        num_groups = self.get_num_groups(max_count)
        gt_labels = torch.cat([x.to(device).long() for x in labels])
        gt_boxes = torch.cat([x.to(device).float().reshape(-1, 4) for x in boxes])
        batch_idx = torch.cat(
            [torch.full((n, ), b, dtype=torch.long, device=device) for b, n in enumerate(counts)])
        label_query = self.generate_dn_label_query(gt_labels, num_groups, class_features, batch_idx)
        if self.box_noise_scale > 0:
            box_query = self.generate_dn_bbox_query(bbox_cxcywh_to_xyxy(gt_boxes), num_groups)
        else:
            box_query = inverse_sigmoid(gt_boxes.repeat(2 * num_groups, 1), EPS)
        label_query, box_query = self.collate_dn_queries(label_query, box_query, batch_idx,
                                                         len(counts), num_groups)
        attn_mask = self.generate_dn_mask(max_count, num_groups, device=device)
        return dict(
            dn_queries=label_query.to(class_features.dtype),
            dn_boxes=box_query.to(class_features.dtype),
            dn_attn_mask=attn_mask,
            num_groups=num_groups,
            group_size=2 * max_count,
            counts=counts)
