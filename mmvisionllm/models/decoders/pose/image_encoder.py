"""The pose decoder's own image branch: backbone → neck → deformable transformer encoder.

Reused from mmdet and why:
    * backbone / neck (``mmdet.ResNet``, ``mmdet.SwinTransformer``, ``mmdet.ChannelMapper``) are
      built from the config, so the tiny and the UniPose-T scale differ only in config;
    * ``SinePositionalEncoding`` and ``DeformableDetrTransformerEncoder`` are exactly the
      multi-scale encoder UniPose/ED-Pose inherit from Deformable DETR, so we use mmdet's layers
      unchanged
      (mmcv's ``MultiScaleDeformableAttention`` falls back to its pure-PyTorch path on CPU);
    * ``DeformableDETR.get_valid_ratio`` (a static method) gives the per-level valid-area ratios.
Ours: only the glue that flattens the levels and builds the padding masks from ``img_shape``.
"""
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmdet.models.detectors.deformable_detr import DeformableDETR
from mmdet.models.layers import DeformableDetrTransformerEncoder, SinePositionalEncoding
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmvisionllm.registry import MODELS

__all__ = ['PoseImageEncoder']


@MODELS.register_module()
class PoseImageEncoder(BaseModule):
    """Multi-scale image encoder of the pose decoder.

    Args:
        backbone (dict): mmdet backbone config (``type='mmdet.ResNet'`` or
            ``'mmdet.SwinTransformer'``).
        neck (dict): mmdet neck config mapping the backbone levels to ``embed_dims`` channels
            (``type='mmdet.ChannelMapper'``); its ``num_outs`` is the number of feature levels.
        encoder (dict): ``DeformableDetrTransformerEncoder`` kwargs (``num_layers``, ``layer_cfg``);
            ``layer_cfg.self_attn_cfg.num_levels`` must equal the neck's ``num_outs``.
        embed_dims (int): Transformer width d. Defaults to 256.
        pos_temperature (int): Temperature of the sine positional encoding. Defaults to 20 (as
            DINO).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 encoder: dict,
                 embed_dims: int = 256,
                 pos_temperature: int = 20,
                 init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.encoder = DeformableDetrTransformerEncoder(**encoder)
        self.embed_dims = embed_dims
        if self.encoder.embed_dims != embed_dims:
            raise ValueError(f'encoder width {self.encoder.embed_dims} != embed_dims {embed_dims}')
        self.num_levels = self.encoder.layers[0].self_attn.num_levels
        self.positional_encoding = SinePositionalEncoding(
            num_feats=embed_dims // 2, normalize=True, offset=-0.5, temperature=pos_temperature)
        self.level_embed = nn.Parameter(torch.zeros(self.num_levels, embed_dims))
        nn.init.normal_(self.level_embed)

    def forward(self, inputs: Tensor, img_shapes: Sequence[Sequence[int]]) -> Dict[str, Tensor]:
        """Encode a padded, normalised image batch.

        Args:
            inputs (Tensor): [B, 3, H_pad, W_pad] normalised images.
            img_shapes (Sequence[Sequence[int]]): per image (h, w) of its unpadded area.

        Returns:
            dict: ``memory`` [B, S, d] (S = Σ_l h_l·w_l), ``memory_mask`` [B, S] bool (True on
            padding),
            ``spatial_shapes`` [L, 2] long (h_l, w_l), ``level_start_index`` [L],
            ``valid_ratios`` [B, L, 2] (w, h ratios of the unpadded area).
        """
        feats = self.neck(self.backbone(inputs))
        if len(feats) != self.num_levels:
            raise ValueError(f'neck gives {len(feats)} levels, encoder expects {self.num_levels}')
        batch_size, _, pad_h, pad_w = inputs.shape
        pad_mask = inputs.new_ones((batch_size, pad_h, pad_w))
        for i, (h, w) in enumerate(img_shapes):
            pad_mask[i, :int(h), :int(w)] = 0

        flat_feats: List[Tensor] = []
        flat_pos: List[Tensor] = []
        flat_masks: List[Tensor] = []
        shapes: List[Sequence[int]] = []
        level_masks: List[Tensor] = []
        for lvl, feat in enumerate(feats):
            h, w = feat.shape[-2:]
            mask = F.interpolate(pad_mask[None], size=(h, w))[0].bool()
            pos = self.positional_encoding(mask) + self.level_embed[lvl].view(1, -1, 1, 1)
            flat_feats.append(feat.flatten(2).transpose(1, 2))
            flat_pos.append(pos.flatten(2).transpose(1, 2))
            flat_masks.append(mask.flatten(1))
            level_masks.append(mask)
            shapes.append((h, w))
        spatial_shapes = torch.as_tensor(shapes, dtype=torch.long, device=inputs.device)
        level_start_index = torch.cat((spatial_shapes.new_zeros(
            (1, )), spatial_shapes.prod(1).cumsum(0)[:-1]))
        valid_ratios = torch.stack([DeformableDETR.get_valid_ratio(m) for m in level_masks], 1)
        memory_mask = torch.cat(flat_masks, 1)
        memory = self.encoder(
            query=torch.cat(flat_feats, 1),
            query_pos=torch.cat(flat_pos, 1),
            key_padding_mask=memory_mask,
            spatial_shapes=spatial_shapes,
            level_start_index=level_start_index,
            valid_ratios=valid_ratios)
        return dict(
            memory=memory,
            memory_mask=memory_mask,
            spatial_shapes=spatial_shapes,
            level_start_index=level_start_index,
            valid_ratios=valid_ratios)
