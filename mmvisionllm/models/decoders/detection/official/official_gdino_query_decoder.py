"""The query decoder of the official Grounding DINO: 6 layers with iterative box refinement.

Reused from transformers 5.x: ``GroundingDinoDecoder.__init__`` (``layer_norm``,
``reference_points_head``; the layers are replaced by
:class:`~.official_gdino_layers.OfficialDecoderLayer`), ``encode_sinusoidal_position_embedding``
(the (y, x, w, h) sine embedding of the reference boxes) and mmdet's ``inverse_sigmoid`` (the
DETR formula the official code uses). Our own ``forward``: transformers' builds its text mask for
exactly ``config.num_queries`` queries, so it cannot run with denoising queries prepended, and it
hands float masks to the attention modules, which here are ``nn.MultiheadAttention``.
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmdet.models.layers.transformer.utils import inverse_sigmoid
from torch import Tensor, nn
from transformers.models.grounding_dino.modeling_grounding_dino import (
    GroundingDinoDecoder, encode_sinusoidal_position_embedding)

from .official_gdino_layers import OfficialDecoderLayer

__all__ = ['OfficialQueryDecoder']


class OfficialQueryDecoder(GroundingDinoDecoder):
    """Decoder stack; ``bbox_embed`` (one shared MLP per layer) is attached by the owner.

    Args:
        config (GroundingDinoConfig): the transformers config.
    """

    def __init__(self, config) -> None:
        super().__init__(config)
        self.layers = nn.ModuleList(
            [OfficialDecoderLayer(config) for _ in range(config.decoder_layers)])

    def forward(self,
                inputs_embeds: Tensor,
                vision_encoder_hidden_states: Tensor,
                vision_encoder_attention_mask: Tensor,
                text_encoder_hidden_states: Tensor,
                text_encoder_attention_mask: Tensor,
                reference_points: Tensor,
                spatial_shapes: Tensor,
                spatial_shapes_list: List[Tuple[int, int]],
                level_start_index: Tensor,
                valid_ratios: Tensor,
                self_attn_mask: Optional[Tensor] = None,
                **kwargs) -> Dict[str, Tensor]:
        """Run the layers, refining the reference boxes after each.

        Args:
            inputs_embeds (Tensor): [B, Q, C] initial queries.
            vision_encoder_hidden_states (Tensor): [B, S, C] memory.
            vision_encoder_attention_mask (Tensor): [B, S] bool, True at valid positions.
            text_encoder_hidden_states (Tensor): [B, T, C].
            text_encoder_attention_mask (Tensor): [B, T] bool, True at padded targets.
            reference_points (Tensor): [B, Q, 4] initial boxes (cxcywh, sigmoid space).
            spatial_shapes (Tensor): [L, 2]; ``spatial_shapes_list`` as tuples.
            level_start_index (Tensor): [L].
            valid_ratios (Tensor): [B, L, 2].
            self_attn_mask (Tensor, optional): query self-attention mask, True = blocked.

        Returns:
            dict: ``intermediate_hidden_states`` [B, num_layers, Q, C] (layer-normed) and
            ``intermediate_reference_points`` [B, num_layers, Q, 4] (the refined boxes after
            each layer, detached).
        """
        hidden_states = inputs_embeds
        intermediate, intermediate_refs = [], []
        scale = torch.cat([valid_ratios, valid_ratios], -1)[:, None]
        for idx, layer in enumerate(self.layers):
            reference_input = reference_points[:, :, None] * scale
            query_pos = encode_sinusoidal_position_embedding(
                reference_input[:, :, 0, :], num_pos_feats=self.config.d_model // 2)
            query_pos = self.reference_points_head(query_pos.to(hidden_states.dtype))
            hidden_states = layer(
                hidden_states=hidden_states,
                position_embeddings=query_pos,
                reference_points=reference_input,
                spatial_shapes=spatial_shapes,
                spatial_shapes_list=spatial_shapes_list,
                level_start_index=level_start_index,
                vision_encoder_hidden_states=vision_encoder_hidden_states,
                vision_encoder_attention_mask=vision_encoder_attention_mask,
                text_encoder_hidden_states=text_encoder_hidden_states,
                text_encoder_attention_mask=text_encoder_attention_mask,
                self_attn_mask=self_attn_mask)
            delta = self.bbox_embed[idx](hidden_states)
            reference_points = (delta + inverse_sigmoid(reference_points)).sigmoid().detach()
            intermediate.append(self.layer_norm(hidden_states))
            intermediate_refs.append(reference_points)
        return dict(
            intermediate_hidden_states=torch.stack(intermediate, dim=1),
            intermediate_reference_points=torch.stack(intermediate_refs, dim=1))
