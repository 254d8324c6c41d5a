"""The query decoder of the official VisionLLM v2 UniPose: box layers, then pose-group layers.

Layers ``0 .. num_box_decoder_layers - 1`` refine the 900 two-stage box queries. After the last of
them the top ``num_groups`` (50) queries by class score become pose groups: each group is its box
query followed by ``num_body_points`` (68) keypoint queries whose content is the projected
keypoint link states and whose reference boxes are the box centre moved by ``pose_embed`` and
sized by the learned ``hw`` / ``hw_append`` fractions of the box. The remaining layers refine the
boxes with ``bbox_embed`` and the keypoints with ``pose_embed`` (x, y) and ``pose_hw_embed``
(w, h), under :func:`~.official_unipose_layers.pose_group_attention_mask`.

In training, D contrastive denoising queries (:mod:`.official_unipose_denoising`) may come first:
they are refined as boxes by every layer (``bbox_embed`` of the layer), take no part in the
pose-group selection (the top-``num_groups`` is over the matching queries only) and stay in
front of the pose groups, under the caller's box-layer and pose-layer masks.

Reused: mmdet's ``MLP`` (``ref_point_head``, the same ``layers.{i}`` names as the official MLP) and
``inverse_sigmoid`` (called with the official eps 1e-3), transformers'
``encode_sinusoidal_position_embedding`` (the (y, x, w, h) sine embedding of the reference boxes).
The loop itself is ours: no library decoder regroups its queries between layers.
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmdet.models.layers import MLP
from mmdet.models.layers.transformer.utils import inverse_sigmoid
from torch import Tensor, nn
from transformers.models.grounding_dino.modeling_grounding_dino import \
    encode_sinusoidal_position_embedding

from .official_unipose_layers import (OfficialPoseDecoderLayer, contrastive_logits,
                                      pose_group_attention_mask)

__all__ = ['OfficialPoseQueryDecoder', 'EPS']

#: eps of the official ``inverse_sigmoid``.
EPS = 1e-3


class OfficialPoseQueryDecoder(nn.Module):
    """Decoder stack; ``bbox_embed`` / ``pose_embed`` / ``pose_hw_embed`` are attached by the owner.

    Args:
        config (GroundingDinoConfig): transformer sizes (``decoder_layers`` ...).
        num_body_points (int): keypoint queries per group K. Defaults to 68.
        num_box_decoder_layers (int): layers before the pose groups are formed. Defaults to 2.
        num_groups (int): pose groups kept. Defaults to 50.
    """

    def __init__(self,
                 config,
                 num_body_points: int = 68,
                 num_box_decoder_layers: int = 2,
                 num_groups: int = 50) -> None:
        super().__init__()
        d_model = config.d_model
        self.d_model = d_model
        self.num_heads = config.decoder_attention_heads
        self.layers = nn.ModuleList(
            [OfficialPoseDecoderLayer(config) for _ in range(config.decoder_layers)])
        self.norm = nn.LayerNorm(d_model)
        self.ref_point_head = MLP(2 * d_model, d_model, d_model, 2)
        coco_points = min(17, num_body_points)
        self.hw = nn.Embedding(coco_points, 2)
        self.hw_append = nn.Embedding(num_body_points - coco_points, 2)
        self.num_body_points = num_body_points
        self.num_box_decoder_layers = num_box_decoder_layers
        self.num_groups = num_groups

    def keypoint_index(self, device: torch.device) -> Tensor:
        """Positions of the keypoint queries among the G x (K + 1) group queries."""
        size = self.num_groups * (self.num_body_points + 1)
        index = torch.arange(size, device=device)
        return index[index % (self.num_body_points + 1) != 0]

    def forward(self,
                query: Tensor,
                reference_unsigmoid: Tensor,
                memory: Tensor,
                memory_valid: Tensor,
                spatial_shapes: Tensor,
                spatial_shapes_list: List[Tuple[int, int]],
                level_start_index: Tensor,
                valid_ratios: Tensor,
                memory_text: Tensor,
                text_valid: Tensor,
                kpt_embed: Tensor,
                kpt_valid: Tensor,
                group_index: Optional[Tensor] = None,
                num_denoising: int = 0,
                box_attn_mask: Optional[Tensor] = None,
                pose_attn_mask: Optional[Tensor] = None) -> Dict[str, object]:
        """Run the layers.

        Args:
            query (Tensor): [B, Q, C] initial box queries; reference_unsigmoid [B, Q, 4].
            memory (Tensor): [B, S, C]; memory_valid [B, S] bool (True = valid).
            spatial_shapes, spatial_shapes_list, level_start_index, valid_ratios: the levels.
            memory_text (Tensor): [B, T, C] encoder class features; text_valid [B, T] bool.
            kpt_embed (Tensor): [B, K, C] keypoint query content (zeros at unused slots).
            kpt_valid (Tensor): [B, K] bool, used keypoint slots.
            group_index (Tensor, optional): [B, G] teacher-forced pose-group selection.
            num_denoising (int): D, the leading denoising queries of ``query`` (training).
            box_attn_mask (Tensor, optional): [Q, Q] or [B * heads, Q, Q] bool self-attention
                mask of the box layers (None: no mask).
            pose_attn_mask (Tensor, optional): [B * heads, D + G (K + 1), D + G (K + 1)] mask of
                the pose layers (None: the official inference mask of the pose groups).

        Returns:
            dict: ``hidden`` (list of L tensors [B, Q_l, C], normed), ``references`` (list of
            L + 1 tensors [B, Q_l, 4], sigmoid; entry l is the input of layer l),
            ``group_index`` [B, G], ``group_scores`` [B, G]. With D > 0 the first D rows of every
            hidden / reference tensor are the denoising queries.
        """
        batch = query.shape[0]
        output = query
        reference = reference_unsigmoid.sigmoid()
        references, hidden = [reference], []
        scale = torch.cat([valid_ratios, valid_ratios], -1)[:, None]
        text_padding = ~text_valid
        attn_mask = box_attn_mask
        num_dn = num_denoising
        kpt_index = self.keypoint_index(query.device)
        group_len = self.num_body_points + 1
        group_scores = None
        for layer_id, layer in enumerate(self.layers):
            reference_input = reference[:, :, None] * scale
            sine = encode_sinusoidal_position_embedding(
                reference_input[:, :, 0, :], num_pos_feats=self.d_model // 2)
            query_pos = self.ref_point_head(sine.to(output.dtype))
            output = layer(output, query_pos, reference_input, memory, memory_valid, spatial_shapes,
                           spatial_shapes_list, level_start_index, memory_text, text_padding,
                           attn_mask)
            hidden.append(self.norm(output))
            if layer_id < self.num_box_decoder_layers:
                new_reference = (self.bbox_embed[layer_id](output) +
                                 inverse_sigmoid(reference, EPS)).sigmoid()
            if layer_id == self.num_box_decoder_layers - 1:
                if num_dn:  # the denoising queries stay in front, out of the selection
                    dn_output, dn_reference = output[:, :num_dn], new_reference[:, :num_dn]
                    output, new_reference = output[:, num_dn:], new_reference[:, num_dn:]
                scores = contrastive_logits(output, memory_text, text_valid).max(-1)[0]
                if group_index is None:
                    group_scores, group_index = torch.topk(scores, self.num_groups, dim=1)
                else:
                    group_scores = torch.gather(scores, 1, group_index)
                box_ref = torch.gather(new_reference, 1, group_index[..., None].expand(-1, -1, 4))
                box_out = torch.gather(output, 1, group_index[...,
                                                              None].expand(-1, -1, self.d_model))
                kpt_out = kpt_embed[:, None].expand(-1, self.num_groups, -1, -1)
                delta_xy = self.pose_embed[-1](kpt_out)[..., :2]
                kpt_xy = (inverse_sigmoid(box_ref[..., :2], EPS)[:, :, None] + delta_xy).sigmoid()
                hw = torch.cat((self.hw.weight, self.hw_append.weight), 0).sigmoid()
                kpt_wh = hw[None, None] * box_ref[:, :, None, 2:]
                new_reference = torch.cat((box_ref[:, :, None], torch.cat((kpt_xy, kpt_wh), -1)),
                                          2).flatten(1, 2)
                output = torch.cat((box_out[:, :, None], kpt_out), 2).flatten(1, 2)
                valid = torch.cat((kpt_valid.new_ones(batch, 1), kpt_valid), 1)
                if pose_attn_mask is None:
                    attn_mask = pose_group_attention_mask(valid, self.num_groups, self.num_heads)
                else:
                    attn_mask = pose_attn_mask
                if num_dn:
                    output = torch.cat((dn_output, output), 1)
                    new_reference = torch.cat((dn_reference, new_reference), 1)
            if layer_id >= self.num_box_decoder_layers:
                step = layer_id - self.num_box_decoder_layers
                unsig = inverse_sigmoid(reference, EPS)
                groups, group_unsig = output, unsig
                if num_dn:
                    groups, group_unsig = output[:, num_dn:], unsig[:, num_dn:]
                box = (self.bbox_embed[layer_id](groups[:, 0::group_len]) +
                       group_unsig[:, 0::group_len]).sigmoid()
                kpt_state = groups[:, kpt_index]
                kpt = group_unsig[:, kpt_index].clone()
                kpt[..., :2] += self.pose_embed[step](kpt_state)[..., :2]
                kpt[..., 2:] += self.pose_hw_embed[step](kpt_state)
                kpt = kpt.sigmoid().view(batch, self.num_groups, self.num_body_points, 4)
                new_reference = torch.cat((box[:, :, None], kpt), 2).flatten(1, 2)
                if num_dn:
                    dn_box = (self.bbox_embed[layer_id](output[:, :num_dn]) +
                              unsig[:, :num_dn]).sigmoid()
                    new_reference = torch.cat((dn_box, new_reference), 1)
            reference = new_reference.detach()
            references.append(new_reference)
        return dict(
            hidden=hidden,
            references=references,
            group_index=group_index,
            group_scores=group_scores)
