"""The layers of the official VisionLLM v2 Grounding DINO whose parameter names differ from HF's.

The official detector (``OVGroundingDinoForObjectDetection``) was written against an early HF
Grounding DINO that used ``torch.nn.MultiheadAttention`` for the text self-attention of the
encoder and the self / text cross-attention of the decoder (parameters ``in_proj_weight``,
``in_proj_bias``, ``out_proj.*``). transformers 5.x replaced these by its own
``GroundingDinoMultiheadAttention`` (``query``/``key``/``value``/``out_proj``) with additive float
masks. To keep the official parameter names (conversion = identity) the layers below subclass
transformers' ``GroundingDinoTextEnhancerLayer`` / ``GroundingDinoDecoderLayer`` — reusing their
layer norms, FFNs and the multi-scale deformable attention — and swap only the attention modules
back to ``nn.MultiheadAttention``; their ``forward`` is therefore our own (the HF one calls the
attention with keyword names and mask conventions that ``nn.MultiheadAttention`` does not have).

The mask branch's convolutions follow detectron2's ``Conv2d`` (a conv that owns ``norm`` and an
activation, applied in that order): :class:`ConvNormAct`. mmcv's ``ConvModule`` computes the same
but names its parameters ``conv.*`` / ``gn.*``, so it cannot hold the official keys.
"""
from typing import Callable, List, Optional, Tuple

from torch import Tensor, nn
from transformers.models.grounding_dino.modeling_grounding_dino import (
    GroundingDinoDecoderLayer, GroundingDinoTextEnhancerLayer)

__all__ = ['ConvNormAct', 'OfficialTextEnhancerLayer', 'OfficialDecoderLayer', 'heads_first_mask']


class ConvNormAct(nn.Conv2d):
    """``nn.Conv2d`` followed by an optional ``norm`` module and activation (detectron2 layout).

    Args:
        *args: ``nn.Conv2d`` arguments.
        norm (nn.Module, optional): applied after the convolution; stored as ``self.norm``.
        activation (callable, optional): applied last.
        **kwargs: ``nn.Conv2d`` keyword arguments.
    """

    def __init__(self,
                 *args,
                 norm: Optional[nn.Module] = None,
                 activation: Optional[Callable[[Tensor], Tensor]] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.norm = norm
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        """[B, C_in, H, W] -> [B, C_out, H', W']."""
        x = super().forward(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


def heads_first_mask(mask: Tensor, num_heads: int) -> Tensor:
    """[B, L, S] bool mask -> [B * num_heads, L, S], ``nn.MultiheadAttention``'s batch-major order.

    The official code uses ``mask.repeat(num_heads, 1, 1)`` (head-major), which pairs the masks of
    different samples with the wrong batch entries when B > 1; for B = 1 both orders are equal.
    """
    return mask.repeat_interleave(num_heads, dim=0)


class OfficialTextEnhancerLayer(GroundingDinoTextEnhancerLayer):
    """Text self-attention + FFN of an encoder layer, with ``nn.MultiheadAttention`` names.

    Args:
        config (GroundingDinoConfig): the transformers config.
    """

    def __init__(self, config) -> None:
        super().__init__(config)
        self.self_attn = nn.MultiheadAttention(
            embed_dim=config.d_model,
            num_heads=config.encoder_attention_heads // 2,
            dropout=config.text_enhancer_dropout,
            batch_first=True)

    def forward(self,
                hidden_states: Tensor,
                attention_masks: Optional[Tensor] = None,
                position_embeddings: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Update the text (class) features.

        Args:
            hidden_states (Tensor): [B, T, C] text features.
            attention_masks (Tensor, optional): [B, T, T] bool, True where token i may NOT attend j.
            position_embeddings (Tensor, optional): [B, T, C].

        Returns:
            tuple: the new features [B, T, C] and the attention weights [B, heads, T, T].
        """
        if attention_masks is not None and attention_masks.dim() == 3:
            attention_masks = heads_first_mask(attention_masks, self.num_heads)
        queries = keys = self.with_pos_embed(hidden_states, position_embeddings)
        attn_out, attn_weights = self.self_attn(
            query=queries,
            key=keys,
            value=hidden_states,
            attn_mask=attention_masks,
            average_attn_weights=False)
        attn_out = nn.functional.dropout(attn_out, p=self.dropout, training=self.training)
        hidden_states = self.layer_norm_before(hidden_states + attn_out)
        residual = hidden_states
        hidden_states = self.activation(self.fc1(hidden_states))
        hidden_states = nn.functional.dropout(hidden_states, p=self.dropout, training=self.training)
        hidden_states = self.fc2(hidden_states)
        hidden_states = nn.functional.dropout(hidden_states, p=self.dropout, training=self.training)
        hidden_states = self.layer_norm_after(hidden_states + residual)
        return hidden_states, attn_weights


class OfficialDecoderLayer(GroundingDinoDecoderLayer):
    """Decoder layer: query self-attention, text cross-attention, deformable image attention, FFN.

    Args:
        config (GroundingDinoConfig): the transformers config.
    """

    def __init__(self, config) -> None:
        super().__init__(config)
        heads = config.decoder_attention_heads
        self.self_attn = nn.MultiheadAttention(
            self.embed_dim, heads, dropout=config.attention_dropout, batch_first=True)
        self.encoder_attn_text = nn.MultiheadAttention(
            self.embed_dim, heads, dropout=config.attention_dropout, batch_first=True)
        self.num_heads = heads

    def _dropout(self, x: Tensor) -> Tensor:
        return nn.functional.dropout(x, p=self.dropout, training=self.training)

    def forward(self,
                hidden_states: Tensor,
                position_embeddings: Tensor,
                reference_points: Tensor,
                spatial_shapes: Tensor,
                spatial_shapes_list: List[Tuple[int, int]],
                level_start_index: Tensor,
                vision_encoder_hidden_states: Tensor,
                vision_encoder_attention_mask: Tensor,
                text_encoder_hidden_states: Tensor,
                text_encoder_attention_mask: Tensor,
                self_attn_mask: Optional[Tensor] = None) -> Tensor:
        """One decoder layer.

        Args:
            hidden_states (Tensor): [B, Q, C] queries.
            position_embeddings (Tensor): [B, Q, C] query positions (from the reference boxes).
            reference_points (Tensor): [B, Q, L, 4] reference boxes scaled per level.
            spatial_shapes (Tensor): [L, 2]; ``spatial_shapes_list`` the same as tuples.
            level_start_index (Tensor): [L].
            vision_encoder_hidden_states (Tensor): [B, S, C] encoder memory.
            vision_encoder_attention_mask (Tensor): [B, S] bool, True at VALID positions.
            text_encoder_hidden_states (Tensor): [B, T, C] encoder text features.
            text_encoder_attention_mask (Tensor): [B, T] bool, True at PADDED targets.
            self_attn_mask (Tensor, optional): [B, Q, Q] or [Q, Q] bool, True = may not attend
                (denoising groups).

        Returns:
            Tensor: [B, Q, C].
        """
        if self_attn_mask is not None and self_attn_mask.dim() == 3:
            self_attn_mask = heads_first_mask(self_attn_mask, self.num_heads)
        q = k = self.with_pos_embed(hidden_states, position_embeddings)
        attn_out = self.self_attn(
            q, k, hidden_states, attn_mask=self_attn_mask, need_weights=False)[0]
        hidden_states = self.self_attn_layer_norm(hidden_states + self._dropout(attn_out))

        attn_out = self.encoder_attn_text(
            self.with_pos_embed(hidden_states, position_embeddings),
            text_encoder_hidden_states,
            text_encoder_hidden_states,
            key_padding_mask=text_encoder_attention_mask,
            need_weights=False)[0]
        hidden_states = self.encoder_attn_text_layer_norm(hidden_states + self._dropout(attn_out))

        attn_out = self.encoder_attn(
            hidden_states=hidden_states,
            attention_mask=vision_encoder_attention_mask,
            encoder_hidden_states=vision_encoder_hidden_states,
            encoder_attention_mask=vision_encoder_attention_mask,
            position_embeddings=position_embeddings,
            reference_points=reference_points,
            spatial_shapes=spatial_shapes,
            spatial_shapes_list=spatial_shapes_list,
            level_start_index=level_start_index)[0]
        hidden_states = self.encoder_attn_layer_norm(hidden_states + self._dropout(attn_out))

        residual = hidden_states
        hidden_states = self.activation_fn(self.fc1(hidden_states))
        hidden_states = nn.functional.dropout(
            hidden_states, p=self.activation_dropout, training=self.training)
        hidden_states = self._dropout(self.fc2(hidden_states))
        return self.final_layer_norm(residual + hidden_states)
