"""Backbone + encoder + two-stage query selection + decoder of the official VisionLLM v2 GDINO.

This is the module the official checkpoint calls ``gdino.model`` (``OVGroundingDinoModel``): an HF
Grounding DINO whose BERT branch is gone (the class features come from the LLM link states) and
which gained a mask branch. Reused from transformers 5.x, unchanged: the Swin backbone wrapper
``GroundingDinoConvEncoder`` / ``GroundingDinoConvModel`` with
``GroundingDinoSinePositionEmbedding``,
``GroundingDinoEncoder`` (deformable image layers, bi-attention fusion; only its text
self-attention is swapped for :class:`~.official_gdino_layers.OfficialTextEnhancerLayer`),
``GroundingDinoMLPPredictionHead``, ``GroundingDinoContrastiveEmbedding`` and
``GroundingDinoModel``'s ``get_valid_ratio`` / ``generate_encoder_output_proposals`` (called as
plain functions on this module, which holds the ``enc_output`` / ``enc_output_norm`` they use).

Why not ``GroundingDinoModel`` itself: it builds the BERT text backbone, projects all backbone
levels (the official model keeps the stride-4 level out of the transformer and feeds it to the
pixel decoder of the mask branch), and has no mask branch. The ``forward`` here follows the
official order of operations; what it adds for testing is ``topk_index`` (teacher-forcing the
two-stage selection) and the intermediate tensors in its output dict.

Parameter names equal the official ones (``gdino.model.*``) except inside the Swin backbone, whose
names transformers 5 changed (see :mod:`.official_gdino_convert`).
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers.models.grounding_dino.modeling_grounding_dino import (
    GroundingDinoContrastiveEmbedding, GroundingDinoConvEncoder, GroundingDinoConvModel,
    GroundingDinoEncoder, GroundingDinoMLPPredictionHead, GroundingDinoModel,
    GroundingDinoSinePositionEmbedding)

from .official_gdino_layers import ConvNormAct, OfficialTextEnhancerLayer
from .official_gdino_query_decoder import OfficialQueryDecoder

__all__ = [
    'OfficialGroundingDinoTransformer', 'encode_levels', 'text_masks_from_valid', 'padded_views'
]


def padded_views(preprocessor: nn.Module, images: Optional[List[Tensor]], training: bool,
                 owner: str) -> Tuple[Tensor, Tensor, List[Tuple[int, int]]]:
    """Normalise and pad the decoder views (an mmdet ``DetDataPreprocessor``), shared by the
    official GDINO and UniPose.

    Returns:
        tuple: pixel values [B, 3, H, W], the valid-pixel mask [B, H, W] bool and each view's
        (h, w).
    """
    if images is None or any(image is None for image in images):
        raise ValueError(f'{owner} needs the decoder image view of every sample')
    pixel_values = preprocessor(dict(inputs=list(images)), training)['inputs']
    sizes = [tuple(image.shape[-2:]) for image in images]
    valid = pixel_values.new_zeros(
        (pixel_values.shape[0], ) + tuple(pixel_values.shape[-2:]), dtype=torch.bool)
    for i, (h, w) in enumerate(sizes):
        valid[i, :h, :w] = True
    return pixel_values, valid, sizes


def text_masks_from_valid(valid: Tensor) -> Tuple[Tensor, Tensor]:
    """Class-token self-attention mask and position ids of the official model.

    The valid class tokens attend to each other, padded ones to themselves only; valid tokens get
    position ids 0, 1, ... in order, padded ones 0 (the official code assumes left-aligned valid
    tokens; this form gives the same result then).

    Args:
        valid (Tensor): [B, T] bool, True where a class slot is used.

    Returns:
        tuple: ``allowed`` [B, T, T] bool (True = may attend) and ``position_ids`` [B, T] long.
    """
    num = valid.shape[1]
    eye = torch.eye(num, dtype=torch.bool, device=valid.device)[None]
    allowed = (valid[:, :, None] & valid[:, None, :]) | eye
    position_ids = (valid.long().cumsum(1) - 1).clamp(min=0) * valid.long()
    return allowed, position_ids


def encode_levels(owner: nn.Module, sources: List[Tensor], masks: List[Tensor],
                  positions: List[Tensor], text_features: Tensor, text_valid: Tensor,
                  allowed: Tensor, position_ids: Tensor) -> Tuple:
    """Flatten the feature levels and run ``owner.encoder`` (transformers' Grounding DINO
    encoder), as both official decoders (GDINO, UniPose) do.

    Args:
        owner (nn.Module): has ``encoder``, ``level_embed`` [L, C] and ``get_valid_ratio``.
        sources, masks, positions: per level [B, C, H, W], [B, H, W] (True = valid pixel),
            [B, C, H, W].
        text_features (Tensor): [B, T, C]; text_valid (Tensor): [B, T] bool.
        allowed, position_ids: the text self-attention masks of :func:`text_masks_from_valid`.

    Returns:
        tuple: the encoder output, the flattened valid mask [B, S], ``spatial_shapes`` [L, 2],
        their list, ``level_start_index`` [L] and ``valid_ratios`` [B, L, 2].
    """
    spatial_shapes_list = [tuple(s.shape[-2:]) for s in sources]
    spatial_shapes = torch.as_tensor(
        spatial_shapes_list, dtype=torch.long, device=sources[0].device)
    level_start_index = torch.cat((spatial_shapes.new_zeros(
        (1, )), spatial_shapes.prod(1).cumsum(0)[:-1]))
    source_flatten = torch.cat([s.flatten(2).transpose(1, 2) for s in sources], 1)
    mask_flatten = torch.cat([m.flatten(1) for m in masks], 1)
    pos_flatten = torch.cat([
        p.flatten(2).transpose(1, 2) + owner.level_embed[lvl].view(1, 1, -1)
        for lvl, p in enumerate(positions)
    ], 1)
    valid_ratios = torch.stack([owner.get_valid_ratio(m) for m in masks], 1).float()
    encoded = owner.encoder(
        vision_features=source_flatten,
        vision_attention_mask=~mask_flatten,
        vision_position_embedding=pos_flatten,
        spatial_shapes=spatial_shapes,
        spatial_shapes_list=spatial_shapes_list,
        level_start_index=level_start_index,
        valid_ratios=valid_ratios,
        text_features=text_features,
        text_attention_mask=~text_valid,
        text_position_embedding=None,
        text_self_attention_masks=allowed,
        text_position_ids=position_ids,
        return_dict=True)
    return (encoded, mask_flatten, spatial_shapes, spatial_shapes_list, level_start_index,
            valid_ratios)


class OfficialGroundingDinoTransformer(nn.Module):
    """The ``model`` part of the official detector.

    Args:
        config (GroundingDinoConfig): transformers config (with a Swin ``backbone_config``).
        mask_dim (int): Channels of the mask features. Defaults to 256.
        norm_groups (int): GroupNorm groups of the pixel decoder and projections. Defaults to 32.
    """

    def __init__(self, config, mask_dim: int = 256, norm_groups: int = 32) -> None:
        super().__init__()
        self.config = config
        d_model = config.d_model
        conv_encoder = GroundingDinoConvEncoder(config)
        # transformers 5's SwinBackbone keeps SwinModel's final layernorm, which the backbone
        # output never uses (and the official checkpoint does not have)
        conv_encoder.model.swin.layernorm = nn.Identity()
        self.backbone = GroundingDinoConvModel(conv_encoder,
                                               GroundingDinoSinePositionEmbedding(config))
        channels = list(conv_encoder.intermediate_channel_sizes)
        proj = [
            nn.Sequential(nn.Conv2d(c, d_model, 1), nn.GroupNorm(norm_groups, d_model))
            for c in channels[-3:]
        ]
        in_channels = channels[-1]
        for _ in range(config.num_feature_levels - len(proj)):
            proj.append(
                nn.Sequential(
                    nn.Conv2d(in_channels, d_model, 3, stride=2, padding=1),
                    nn.GroupNorm(norm_groups, d_model)))
            in_channels = d_model
        self.input_proj_vision = nn.ModuleList(proj)
        self.num_fpn_levels = max(config.num_feature_levels - len(channels[-3:]), 1)
        self.mask_dim = mask_dim
        self.mask_features = ConvNormAct(d_model, mask_dim, kernel_size=1)
        self.lateral_convs = nn.ModuleList([
            ConvNormAct(c, d_model, 1, bias=False, norm=nn.GroupNorm(norm_groups, d_model))
            for c in channels[:self.num_fpn_levels]
        ])
        self.output_convs = nn.ModuleList([
            ConvNormAct(
                d_model,
                d_model,
                3,
                padding=1,
                bias=False,
                norm=nn.GroupNorm(norm_groups, d_model),
                activation=F.relu) for _ in range(self.num_fpn_levels)
        ])
        self.query_position_embeddings = nn.Embedding(config.num_queries, d_model)
        self.mask_embed = GroundingDinoMLPPredictionHead(d_model, d_model, mask_dim, 3)
        self.encoder = GroundingDinoEncoder(config)
        for layer in self.encoder.layers:
            layer.text_enhancer_layer = OfficialTextEnhancerLayer(config)
        self.decoder = OfficialQueryDecoder(config)
        self.level_embed = nn.Parameter(torch.zeros(config.num_feature_levels, d_model))
        self.enc_output = nn.Linear(d_model, d_model)
        self.enc_output_norm = nn.LayerNorm(d_model, config.layer_norm_eps)
        self.encoder_output_bbox_embed = GroundingDinoMLPPredictionHead(d_model, d_model, 4, 3)
        self.encoder_output_class_embed = GroundingDinoContrastiveEmbedding(config)

    # transformers' helpers, which only use the attributes this module also has
    get_valid_ratio = GroundingDinoModel.get_valid_ratio
    generate_encoder_output_proposals = GroundingDinoModel.generate_encoder_output_proposals

    def _levels(self, pixel_values: Tensor,
                pixel_mask: Tensor) -> Tuple[list, List[Tensor], List[Tensor], List[Tensor]]:
        """Backbone maps, and the transformer's sources, masks and position embeddings."""
        features, positions = self.backbone(pixel_values, pixel_mask)
        sources, masks, pos = [], [], list(positions[1:])
        for level, (source, mask) in enumerate(features[1:]):
            sources.append(self.input_proj_vision[level](source))
            masks.append(mask)
        num_projected = len(sources)
        for level in range(num_projected, self.config.num_feature_levels):
            # the first extra level comes from the last backbone map, the next from the previous
            prev = features[-1][0] if level == num_projected else sources[-1]
            source = self.input_proj_vision[level](prev)
            mask = F.interpolate(pixel_mask[None].float(), size=source.shape[-2:]).to(torch.bool)[0]
            sources.append(source)
            masks.append(mask)
            pos.append(self.backbone.position_embedding(source, mask).to(source.dtype))
        return features, sources, masks, pos

    def pixel_decoder(self, memory: Tensor, features: list, spatial_shapes_list: list) -> Tensor:
        """Mask features [B, mask_dim, H/4, W/4] from the stride-8 memory and stride-4 backbone."""
        batch_size = memory.shape[0]
        sizes = [h * w for h, w in spatial_shapes_list]
        out = [
            level.transpose(1, 2).reshape(batch_size, -1, h, w)
            for level, (h, w) in zip(memory.split(sizes, dim=1), spatial_shapes_list)
        ]
        for idx in range(self.num_fpn_levels):
            lateral = self.lateral_convs[idx](features[idx][0])
            up = F.interpolate(
                out[0].float(), size=lateral.shape[-2:], mode='bilinear', align_corners=False)
            out.insert(0, self.output_convs[idx](lateral + up.to(lateral)))
        return self.mask_features(out[0])

    def forward(self,
                pixel_values: Tensor,
                pixel_mask: Tensor,
                text_features: Tensor,
                text_token_mask: Tensor,
                dn_queries: Optional[Tensor] = None,
                dn_boxes: Optional[Tensor] = None,
                dn_attn_mask: Optional[Tensor] = None,
                topk_index: Optional[Tensor] = None,
                with_encoder_masks: bool = False) -> Dict[str, Tensor]:
        """Encoder, two-stage selection and decoder.

        Args:
            pixel_values (Tensor): [B, 3, H, W] normalised, zero-padded images.
            pixel_mask (Tensor): [B, H, W] bool, True at valid pixels.
            text_features (Tensor): [B, T, C] class features (projected link states).
            text_token_mask (Tensor): [B, T] bool, True for used class slots.
            dn_queries (Tensor, optional): [B, D, C] denoising queries put before the matching
                ones, with ``dn_boxes`` [B, D, 4] (inverse-sigmoid space) and ``dn_attn_mask``.
            topk_index (Tensor, optional): [B, num_queries] long: encoder positions to use as the
                queries instead of the top-k of the encoder scores (for parity tests).
            with_encoder_masks (bool): also return ``enc_masks`` [B, num_queries, H/4, W/4].

        Returns:
            dict: ``intermediate_hidden_states`` [B, layers, Q, C],
            ``intermediate_reference_points`` [B, layers, Q, 4], ``init_reference_points``
            [B, Q, 4], ``mask_features`` [B, mask_dim, H/4, W/4], ``memory`` [B, S, C],
            ``memory_text`` [B, T, C], ``enc_outputs_class`` [B, S, 256],
            ``enc_outputs_coord_logits`` [B, S, 4], ``topk_index`` [B, num_queries],
            ``enc_topk_logits`` [B, num_queries, 256], ``enc_topk_boxes`` [B, num_queries, 4]
            (and ``enc_masks``).
        """
        allowed, position_ids = text_masks_from_valid(text_token_mask)
        features, sources, masks, pos = self._levels(pixel_values, pixel_mask)
        (encoded, mask_flatten, spatial_shapes, spatial_shapes_list, level_start_index,
         valid_ratios) = encode_levels(self, sources, masks, pos, text_features, text_token_mask,
                                       allowed, position_ids)
        memory = encoded.last_hidden_state_vision
        memory_text = encoded.last_hidden_state_text
        mask_features = self.pixel_decoder(memory, features, spatial_shapes_list)

        object_query, proposals = self.generate_encoder_output_proposals(
            memory, ~mask_flatten, spatial_shapes_list)
        enc_class = self.encoder_output_class_embed(object_query, memory_text, text_token_mask)
        enc_coords = self.encoder_output_bbox_embed(object_query) + proposals
        if topk_index is None:
            if enc_class.shape[1] < self.config.num_queries:
                raise ValueError(
                    f'the decoder view gives {enc_class.shape[1]} encoder positions, fewer than '
                    f'the {self.config.num_queries} queries the two-stage selection keeps: use a '
                    'larger decoder view (the official evaluation resizes to 800 x 1333)')
            topk_index = torch.topk(enc_class.max(-1)[0], self.config.num_queries, dim=1)[1]
        topk_coords = torch.gather(enc_coords, 1, topk_index[..., None].expand(-1, -1, 4))
        enc_topk_logits = torch.gather(enc_class, 1,
                                       topk_index[..., None].expand(-1, -1, enc_class.shape[-1]))
        batch_size = pixel_values.shape[0]
        target = self.query_position_embeddings.weight[None].expand(batch_size, -1, -1)
        reference_points = topk_coords.detach().sigmoid()
        out = dict(
            init_reference_points=reference_points,
            mask_features=mask_features,
            memory=memory,
            memory_text=memory_text,
            enc_outputs_class=enc_class,
            enc_outputs_coord_logits=enc_coords,
            topk_index=topk_index,
            enc_topk_logits=enc_topk_logits,
            enc_topk_boxes=topk_coords.sigmoid())
        if with_encoder_masks:
            out['enc_masks'] = torch.einsum('bqc,bchw->bqhw', self.mask_embed(target),
                                            mask_features)
        if dn_queries is not None:
            target = torch.cat([dn_queries, target], dim=1)
            reference_points = torch.cat([dn_boxes.sigmoid(), reference_points], dim=1)
            out['init_reference_points'] = reference_points
        out.update(
            self.decoder(
                inputs_embeds=target,
                vision_encoder_hidden_states=memory,
                vision_encoder_attention_mask=mask_flatten,
                text_encoder_hidden_states=memory_text,
                text_encoder_attention_mask=~text_token_mask,
                reference_points=reference_points,
                spatial_shapes=spatial_shapes,
                spatial_shapes_list=spatial_shapes_list,
                level_start_index=level_start_index,
                valid_ratios=valid_ratios,
                self_attn_mask=dn_attn_mask))
        return out
