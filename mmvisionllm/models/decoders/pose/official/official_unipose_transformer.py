"""Encoder, two-stage box-query selection and pose decoder of the official VisionLLM v2 UniPose.

This is what the official checkpoint calls ``unipose.transformer`` (its ``DeformableTransformer``
with ``two_stage_type='standard'``, ``embed_init_tgt=True``, text enhancer and fusion layers).

Reused from transformers 5.x: ``GroundingDinoEncoder`` (its layers are, in the official order,
bi-attention fusion, text self-attention and deformable image self-attention — UniPose's encoder
is the code transformers' Grounding DINO was ported from); its text self-attention is swapped for
:class:`~mmvisionllm.models.decoders.detection.official.official_gdino_layers.OfficialTextEnhancerLayer`
(``nn.MultiheadAttention``, as the official one), and ``GroundingDinoModel``'s
``get_valid_ratio`` / ``generate_encoder_output_proposals`` (called as plain functions on this
module, which holds the ``enc_output`` / ``enc_output_norm`` they use). The official encoder keeps
the three sub-layers in three lists (``layers``, ``text_layers``, ``fusion_layers``) with other
sub-module names; :mod:`.official_unipose_convert` renames them. mmdet's ``MLP`` is the box head.

The ``forward`` is ours (no library model runs this two-stage + pose decoder): it follows the
official order of operations and adds, for parity tests, ``topk_index`` / ``group_index``
(teacher-forced selections) and the intermediate tensors in its output dict. In training the
contrastive denoising queries (:mod:`.official_unipose_denoising`) are put before the two-stage
queries, as the official model does.
"""
from typing import Dict, List, Optional

import torch
from mmdet.models.layers import MLP
from torch import Tensor, nn
from transformers.models.grounding_dino.modeling_grounding_dino import (GroundingDinoEncoder,
                                                                        GroundingDinoModel)

from ...detection.official.official_gdino_layers import OfficialTextEnhancerLayer
from ...detection.official.official_gdino_transformer import encode_levels, text_masks_from_valid
from .official_unipose_layers import contrastive_logits
from .official_unipose_query_decoder import OfficialPoseQueryDecoder

__all__ = ['OfficialUniPoseTransformer']


class OfficialUniPoseTransformer(nn.Module):
    """The ``transformer`` part of the official UniPose.

    Args:
        config (GroundingDinoConfig): sizes (``d_model``, ``num_queries``, layers, heads ...).
        num_body_points (int): keypoint queries per pose group. Defaults to 68.
        num_box_decoder_layers (int): decoder layers before the pose groups. Defaults to 2.
        num_groups (int): pose groups. Defaults to 50.
    """

    def __init__(self,
                 config,
                 num_body_points: int = 68,
                 num_box_decoder_layers: int = 2,
                 num_groups: int = 50) -> None:
        super().__init__()
        self.config = config
        d_model = config.d_model
        self.level_embed = nn.Parameter(torch.zeros(config.num_feature_levels, d_model))
        self.encoder = GroundingDinoEncoder(config)
        for layer in self.encoder.layers:
            layer.text_enhancer_layer = OfficialTextEnhancerLayer(config)
        self.decoder = OfficialPoseQueryDecoder(config, num_body_points, num_box_decoder_layers,
                                                num_groups)
        self.tgt_embed = nn.Embedding(config.num_queries, d_model)
        self.enc_output = nn.Linear(d_model, d_model)
        self.enc_output_norm = nn.LayerNorm(d_model)
        self.enc_out_bbox_embed = MLP(d_model, d_model, 4, 3)

    get_valid_ratio = GroundingDinoModel.get_valid_ratio
    generate_encoder_output_proposals = GroundingDinoModel.generate_encoder_output_proposals

    def forward(self,
                sources: List[Tensor],
                masks: List[Tensor],
                positions: List[Tensor],
                class_features: Tensor,
                class_valid: Tensor,
                kpt_embed: Tensor,
                kpt_valid: Tensor,
                topk_index: Optional[Tensor] = None,
                group_index: Optional[Tensor] = None,
                dn: Optional[dict] = None,
                pose_attn_mask: Optional[Tensor] = None) -> Dict[str, object]:
        """Encoder, two-stage selection and decoder.

        Args:
            sources (list[Tensor]): L maps [B, C, H_l, W_l] (projected levels).
            masks (list[Tensor]): L bool [B, H_l, W_l], True at VALID positions.
            positions (list[Tensor]): L sine position embeddings [B, C, H_l, W_l].
            class_features (Tensor): [B, T, C] projected object link states.
            class_valid (Tensor): [B, T] bool, used object slots.
            kpt_embed (Tensor): [B, K, C] projected keypoint link states (0 at unused slots).
            kpt_valid (Tensor): [B, K] bool.
            topk_index (Tensor, optional): [B, num_queries] teacher-forced two-stage selection.
            group_index (Tensor, optional): [B, G] teacher-forced pose-group selection.
            dn (dict, optional): denoising queries (training): ``dn_queries`` [B, D, C],
                ``dn_boxes`` [B, D, 4] (inverse-sigmoid space) and ``dn_attn_mask``
                [D + Q, D + Q], put before the Q two-stage queries.
            pose_attn_mask (Tensor, optional): the mask of the pose layers (see
                :class:`~.official_unipose_query_decoder.OfficialPoseQueryDecoder`).

        Returns:
            dict: ``memory`` [B, S, C], ``memory_text`` [B, T, C], ``topk_index`` /
            ``topk_score`` [B, num_queries], ``hs_enc`` [B, num_queries, C], ``ref_enc``
            [B, num_queries, 4], the decoder's ``hidden`` / ``references`` / ``group_index`` /
            ``group_scores`` and the level bookkeeping.
        """
        allowed, position_ids = text_masks_from_valid(class_valid)
        (encoded, valid_flatten, spatial_shapes, spatial_shapes_list, level_start_index,
         valid_ratios) = encode_levels(self, sources, masks, positions, class_features, class_valid,
                                       allowed, position_ids)
        memory = encoded.last_hidden_state_vision
        memory_text = encoded.last_hidden_state_text

        output_memory, proposals = self.generate_encoder_output_proposals(
            memory, ~valid_flatten, spatial_shapes_list)
        scores = contrastive_logits(output_memory, memory_text, class_valid).max(-1)[0]
        coords = self.enc_out_bbox_embed(output_memory) + proposals
        if topk_index is None:
            if scores.shape[1] < self.config.num_queries:
                raise ValueError(
                    f'the decoder view gives {scores.shape[1]} encoder positions, fewer than '
                    f'the {self.config.num_queries} box queries the two-stage selection keeps: '
                    'use a larger decoder view (the official evaluation resizes to 800 x 1333)')
            topk_score, topk_index = torch.topk(scores, self.config.num_queries, dim=1)
        else:
            topk_score = torch.gather(scores, 1, topk_index)
        ref_undetached = torch.gather(coords, 1, topk_index[..., None].expand(-1, -1, 4))
        hs_enc = torch.gather(output_memory, 1,
                              topk_index[..., None].expand(-1, -1, output_memory.shape[-1]))
        batch = memory.shape[0]
        target = self.tgt_embed.weight[None].expand(batch, -1, -1)
        reference = ref_undetached.detach()
        num_dn, box_attn_mask = 0, None
        if dn is not None:
            num_dn, box_attn_mask = dn['dn_queries'].shape[1], dn['dn_attn_mask']
            target = torch.cat((dn['dn_queries'].to(target.dtype), target), 1)
            reference = torch.cat((dn['dn_boxes'].to(reference.dtype), reference), 1)
        out = self.decoder(
            target,
            reference,
            memory,
            valid_flatten,
            spatial_shapes,
            spatial_shapes_list,
            level_start_index,
            valid_ratios,
            memory_text,
            class_valid,
            kpt_embed,
            kpt_valid,
            group_index,
            num_denoising=num_dn,
            box_attn_mask=box_attn_mask,
            pose_attn_mask=pose_attn_mask)
        out.update(
            memory=memory,
            memory_text=memory_text,
            topk_index=topk_index,
            topk_score=topk_score,
            hs_enc=hs_enc,
            ref_enc=ref_undetached.sigmoid())
        return out
