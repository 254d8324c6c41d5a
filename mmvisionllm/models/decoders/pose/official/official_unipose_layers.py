"""Small pieces of the official VisionLLM v2 UniPose decoder stack that no library provides.

* :class:`OfficialPoseDecoderLayer`: query self-attention, text cross-attention, multi-scale
  deformable image attention and FFN, post-norm, with the official parameter names
  (``self_attn`` / ``ca_text`` as ``nn.MultiheadAttention``, ``cross_attn``, ``norm1..3``,
  ``catext_norm``, ``linear1/2``). The deformable attention is transformers'
  ``GroundingDinoMultiscaleDeformableAttention`` (same parameter names and math as the official
  ``MSDeformAttn``); transformers' ``GroundingDinoDecoderLayer`` cannot serve because it names its
  norms / FFN differently and applies the sub-layers in another order (text cross-attention after
  self-attention is the same, but the official FFN norm is ``norm3`` and the image norm ``norm1``).
* :func:`contrastive_logits`: the parameter-free class head (query · class feature, unused slots
  -inf), as wide as the class table (transformers' ``GroundingDinoContrastiveEmbedding`` pads to
  ``max_text_len``, the official UniPose head does not).
* :func:`pose_group_attention_mask`: the self-attention mask of the pose layers, reproducing the
  official constructions exactly. At inference (and in training without denoising queries) the
  official first pass works in ``num_body_points``-wide blocks and its second pass in
  ``num_body_points + 1``-wide groups (neighbouring groups can therefore see a few queries of each
  other; the reference depends on it); the official denoising training builds the same mask with
  ``num_body_points + 1``-wide blocks (``block_size``), where no group sees another.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers.models.grounding_dino.modeling_grounding_dino import \
    GroundingDinoMultiscaleDeformableAttention

__all__ = ['OfficialPoseDecoderLayer', 'contrastive_logits', 'pose_group_attention_mask']


def contrastive_logits(queries: Tensor, class_features: Tensor, valid: Tensor) -> Tensor:
    """[B, Q, C] x [B, T, C] -> [B, Q, T] dot products, -inf at unused class slots.

    Args:
        queries (Tensor): [B, Q, C] decoder states.
        class_features (Tensor): [B, T, C] encoder class (text) features.
        valid (Tensor): [B, T] bool, True for used slots.
    """
    logits = queries @ class_features.transpose(-1, -2)
    return logits.masked_fill(~valid[:, None, :], float('-inf'))


def pose_group_attention_mask(kpt_valid: Tensor,
                              num_groups: int,
                              num_heads: int,
                              block_size: Optional[int] = None) -> Tensor:
    """Self-attention mask of the pose decoder layers (True = may not attend).

    First pass: the rows ``r < G * block_size`` may not see the columns outside their block
    ``[r // block_size * block_size, (r // block_size + 1) * block_size)``; second pass: inside
    each group of K + 1 queries, a query sees exactly the queries of the same validity.

    Args:
        kpt_valid (Tensor): [B, K + 1] bool/int: 1 for the box query and the used keypoint
            slots of a group, 0 for the unused ones (K = ``num_body_points``).
        num_groups (int): pose groups G (50).
        num_heads (int): attention heads.
        block_size (int, optional): width of the first pass. Defaults to K, the official
            inference construction; K + 1 is the one of the official denoising training.

    Returns:
        Tensor: [B * num_heads, G * (K + 1), G * (K + 1)] bool, batch-major (nn.MultiheadAttention).
    """
    batch, length = kpt_valid.shape
    width = length - 1 if block_size is None else block_size
    size = num_groups * length
    device = kpt_valid.device
    rows = torch.arange(size, device=device)[:, None]
    cols = torch.arange(size, device=device)[None, :]
    block = rows // width
    first = (cols < block * width) | ((cols >= (block + 1) * width) &
                                      ((block + 1) * width < num_groups * width))
    first &= rows < num_groups * width
    mask = first[None].expand(batch, -1, -1).clone()
    differ = kpt_valid[:, :, None] != kpt_valid[:, None, :]
    for group in range(num_groups):
        sl = slice(group * length, (group + 1) * length)
        mask[:, sl, sl] = differ
    return mask.repeat_interleave(num_heads, dim=0)


class OfficialPoseDecoderLayer(nn.Module):
    """One decoder layer of the official UniPose (batch-first tensors).

    Args:
        config (GroundingDinoConfig): ``d_model``, ``decoder_attention_heads``,
            ``decoder_ffn_dim``, ``decoder_n_points``, ``num_feature_levels``.
    """

    def __init__(self, config) -> None:
        super().__init__()
        d_model = config.d_model
        heads = config.decoder_attention_heads
        self.num_heads = heads
        self.cross_attn = GroundingDinoMultiscaleDeformableAttention(
            config, num_heads=heads, n_points=config.decoder_n_points)
        self.norm1 = nn.LayerNorm(d_model)
        self.ca_text = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.catext_norm = nn.LayerNorm(d_model)
        self.self_attn = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, config.decoder_ffn_dim)
        self.linear2 = nn.Linear(config.decoder_ffn_dim, d_model)
        self.norm3 = nn.LayerNorm(d_model)

    def forward(self, query: Tensor, query_pos: Tensor, reference_points: Tensor, memory: Tensor,
                memory_valid: Tensor, spatial_shapes: Tensor, spatial_shapes_list: List[Tuple[int,
                                                                                              int]],
                level_start_index: Tensor, memory_text: Tensor, text_padding: Tensor,
                self_attn_mask: Optional[Tensor]) -> Tensor:
        """One layer.

        Args:
            query (Tensor): [B, Q, C]; query_pos (Tensor): [B, Q, C].
            reference_points (Tensor): [B, Q, L, 4] boxes scaled by the valid ratios.
            memory (Tensor): [B, S, C]; memory_valid (Tensor): [B, S] bool, True at valid.
            spatial_shapes (Tensor): [L, 2]; ``spatial_shapes_list`` the same as tuples.
            level_start_index (Tensor): [L].
            memory_text (Tensor): [B, T, C]; text_padding (Tensor): [B, T] bool, True = unused.
            self_attn_mask (Tensor, optional): [B * heads, Q, Q] bool, True = blocked.

        Returns:
            Tensor: [B, Q, C].
        """
        q = k = query + query_pos
        query = self.norm2(
            query + self.self_attn(q, k, query, attn_mask=self_attn_mask, need_weights=False)[0])
        attn = self.ca_text(
            query + query_pos,
            memory_text,
            memory_text,
            key_padding_mask=text_padding,
            need_weights=False)[0]
        query = self.catext_norm(query + attn)
        attn = self.cross_attn(
            hidden_states=query,
            attention_mask=memory_valid,
            encoder_hidden_states=memory,
            encoder_attention_mask=memory_valid,
            position_embeddings=query_pos,
            reference_points=reference_points,
            spatial_shapes=spatial_shapes,
            spatial_shapes_list=spatial_shapes_list,
            level_start_index=level_start_index)[0]
        query = self.norm1(query + attn)
        return self.norm3(query + self.linear2(F.relu(self.linear1(query))))
