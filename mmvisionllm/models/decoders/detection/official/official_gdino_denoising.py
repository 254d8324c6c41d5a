"""Contrastive denoising (CDN) queries of the official VisionLLM v2 GDINO training.

DINO's recipe: every ground-truth box is repeated in ``G`` groups, each with a positive (box noise
up to half its size) and a negative (noise between half and one size) copy; the labels are
replaced by random ones with probability ``label_noise_ratio / 2``. What is particular to the
official GDINO: the content of a denoising query is the *class feature of its (noised) label in
that sample* — the projected link states — instead of a learned label embedding, and the random
labels are drawn among ``min(labelbook_size, T)`` slots, T = the padded number of targets.

Why not mmdet's ``CdnQueryGenerator``: it embeds labels with its own ``nn.Embedding`` table,
works on absolute xyxy boxes and uses ``inverse_sigmoid(eps=1e-3)``, whereas the official code
looks labels up in the per-sample class features, noises normalised cxcywh boxes and uses
``eps=1e-5``. The noise and mask recipe below follows the official code; the random draws come
from ``torch`` (optionally a ``generator``), so no two implementations draw the same noise.
"""
from typing import List, Optional

import torch
from mmdet.models.layers.transformer.utils import inverse_sigmoid
from torch import Tensor

__all__ = ['build_denoising_queries']


def build_denoising_queries(labels: List[Tensor],
                            boxes: List[Tensor],
                            class_features: Tensor,
                            num_matching_queries: int,
                            dn_number: int = 100,
                            label_noise_ratio: float = 0.5,
                            box_noise_scale: float = 1.0,
                            labelbook_size: int = 256,
                            generator: Optional[torch.Generator] = None) -> Optional[dict]:
    """Noised queries, their boxes and the self-attention mask.

    Args:
        labels (list[Tensor]): per sample [n_i] target indices.
        boxes (list[Tensor]): per sample [n_i, 4] cxcywh in [0, 1].
        class_features (Tensor): [B, T, C] class features (patch2query output).
        num_matching_queries (int): Q, the two-stage queries that follow the denoising ones.
        dn_number (int): denoising queries per polarity before grouping (official 100).
        label_noise_ratio (float): twice the probability of a random label.
        box_noise_scale (float): box noise scale.
        labelbook_size (int): upper bound of the random labels (official 256).
        generator (torch.Generator, optional): source of the noise.

    Returns:
        dict | None: None without any ground truth; else ``dn_queries`` [B, D, C], ``dn_boxes``
        [B, D, 4] (inverse-sigmoid space), ``dn_attn_mask`` [D + Q, D + Q] bool (True =
        blocked), ``num_groups`` G and ``group_size`` (2 x the largest n_i), D = G x group_size.
        Query ``g * group_size + j`` is the positive copy of ground truth j in group g,
        ``g * group_size + group_size / 2 + j`` its negative.
    """
    device = class_features.device
    counts = [int(len(x)) for x in labels]
    max_count = max(counts) if counts else 0
    if dn_number <= 0 or max_count == 0:
        return None
    num_groups = max(dn_number * 2 // (max_count * 2), 1)
    half = max_count
    group_size = 2 * half
    num_dn = group_size * num_groups
    batch_size, num_slots, channels = class_features.shape
    book = min(labelbook_size, num_slots)

    def rand(shape):
        return torch.rand(shape, generator=generator, device=device)

    sample_idx, slot_idx, label_list, box_list = [], [], [], []
    for b, (lab, box) in enumerate(zip(labels, boxes)):
        n = counts[b]
        if n == 0:
            continue
        lab = lab.to(device).long()
        box = box.to(device).float()
        for g in range(num_groups):
            for polarity in (0, 1):
                noisy_lab = lab.clone()
                if label_noise_ratio > 0:
                    flip = rand((n, )) < label_noise_ratio * 0.5
                    random_lab = torch.randint(0, book, (n, ), generator=generator, device=device)
                    noisy_lab = torch.where(flip, random_lab, noisy_lab)
                noisy_box = box
                if box_noise_scale > 0:
                    xyxy = torch.cat([box[:, :2] - box[:, 2:] / 2, box[:, :2] + box[:, 2:] / 2], 1)
                    span = box[:, 2:].repeat(1, 2) / 2
                    sign = torch.randint(
                        0, 2, (n, 4), generator=generator, device=device).float() * 2 - 1
                    part = (rand((n, 4)) + polarity) * sign
                    xyxy = (xyxy + part * span * box_noise_scale).clamp(0.0, 1.0)
                    noisy_box = torch.cat(
                        [(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], 1)
                offset = g * group_size + polarity * half
                sample_idx.append(torch.full((n, ), b, dtype=torch.long, device=device))
                slot_idx.append(torch.arange(n, device=device) + offset)
                label_list.append(noisy_lab)
                box_list.append(noisy_box)
    sample_idx = torch.cat(sample_idx)
    slot_idx = torch.cat(slot_idx)
    dn_queries = class_features.new_zeros((batch_size, num_dn, channels))
    dn_queries[sample_idx, slot_idx] = class_features[sample_idx, torch.cat(label_list)]
    dn_boxes = class_features.new_zeros((batch_size, num_dn, 4))
    dn_boxes[sample_idx, slot_idx] = inverse_sigmoid(torch.cat(box_list)).to(dn_boxes.dtype)

    size = num_dn + num_matching_queries
    attn_mask = torch.zeros((size, size), dtype=torch.bool, device=device)
    attn_mask[num_dn:, :num_dn] = True  # matching queries do not see the denoising ones
    for g in range(num_groups):  # a group sees itself (and the matching queries) only
        rows = slice(g * group_size, (g + 1) * group_size)
        attn_mask[rows, :g * group_size] = True
        attn_mask[rows, (g + 1) * group_size:num_dn] = True
    return dict(
        dn_queries=dn_queries,
        dn_boxes=dn_boxes,
        dn_attn_mask=attn_mask,
        num_groups=num_groups,
        group_size=group_size)
