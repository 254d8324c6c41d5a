"""Region encoder of VisionLLM v2: one LLM token per ``<region>`` prompt.

Design (paper, Sec. 3): the image (the global thumbnail tile) and the binary region mask are stacked
into 4 channels and go through a small conv stem down to the CLIP patch grid (24x24 for CLIP-L-336);
this map is concatenated with the CLIP hidden states of the last 3 layers at that grid. Points are
sampled inside the mask, the fused map is read at them (``F.grid_sample``, bilinear) and averaged,
and a Linear maps the result to the LLM width. Plain PyTorch layers: there is no library module for
this.

Assumes the thumbnail is the whole image resized to S x S (as the dynamic-resolution tiling does),
so normalised mask coordinates are thumbnail coordinates.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmvisionllm.registry import MODELS

__all__ = ['MaskPointRegionEncoder']


@MODELS.register_module()
class MaskPointRegionEncoder(BaseModule):
    """Encode mask prompts into LLM tokens.

    Args:
        out_channels (int): LLM width C (VisionLLMv2 passes it).
        vision_channels (int): CLIP width C_v (VisionLLMv2 passes it).
        grid_size (int): Side g of the CLIP patch grid (VisionLLMv2 passes it).
        num_vision_layers (int): Number K of CLIP layers used. Defaults to 3.
        stem_channels (int): Width of the conv stem's output map. Defaults to 256.
        num_points (int): Points sampled inside each mask. Defaults to 64.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 out_channels: int,
                 vision_channels: int,
                 grid_size: int,
                 num_vision_layers: int = 3,
                 stem_channels: int = 256,
                 num_points: int = 64,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.grid_size = grid_size
        self.num_points = num_points
        self.num_vision_layers = num_vision_layers
        hidden = max(stem_channels // 4, 16)
        self.stem = nn.Sequential(
            nn.Conv2d(4, hidden, kernel_size=3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(hidden, stem_channels, kernel_size=3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(grid_size), nn.Conv2d(stem_channels, stem_channels, kernel_size=1))
        self.proj = nn.Linear(stem_channels + num_vision_layers * vision_channels, out_channels)

    def _sample_points(self, mask: Tensor) -> Tensor:
        """[P, 2] (x, y) points in [-1, 1] inside ``mask`` [H, W] (random when training, evenly
        spread over the mask pixels otherwise)."""
        ys, xs = torch.nonzero(mask, as_tuple=True)
        if ys.numel() == 0:
            raise ValueError('a <region> mask is empty')
        if self.training:
            index = torch.randint(ys.numel(), (self.num_points, ), device=mask.device)
        else:
            index = torch.linspace(
                0, ys.numel() - 1, self.num_points, device=mask.device).round().long()
        height, width = mask.shape
        x = (xs[index].float() + 0.5) / width * 2 - 1
        y = (ys[index].float() + 0.5) / height * 2 - 1
        return torch.stack([x, y], dim=-1)

    def forward(self, thumbnail: Tensor, vision_layers: Tensor, masks: Sequence[Tensor]) -> Tensor:
        """Encode the regions of one image.

        Args:
            thumbnail (Tensor): [3, S, S] CLIP-normalised global thumbnail.
            vision_layers (Tensor): [K, L, C_v] CLIP patch tokens of the thumbnail (L = g * g).
            masks (Sequence[Tensor]): R bool masks [H_ori, W_ori].

        Returns:
            Tensor: [R, C] one LLM token per region.
        """
        size = thumbnail.shape[-1]
        dtype = self.proj.weight.dtype
        mask_maps = torch.stack([
            F.interpolate(m[None, None].float(), size=(size, size), mode='nearest')[0]
            for m in masks
        ]).to(dtype)  # [R, 1, S, S]
        images = thumbnail.to(dtype)[None].expand(len(masks), -1, -1, -1)
        stem_maps = self.stem(torch.cat([images, mask_maps], dim=1))  # [R, c, g, g]
        k, num_tokens, channels = vision_layers.shape
        vision_map = vision_layers.to(dtype).permute(0, 2, 1).reshape(
            1, k * channels, self.grid_size, self.grid_size).expand(len(masks), -1, -1, -1)
        fused = torch.cat([stem_maps, vision_map], dim=1)  # [R, c+K*C_v, g, g]
        points = torch.stack([self._sample_points(m.bool()) for m in masks])  # [R, P, 2]
        sampled = F.grid_sample(fused, points[:, :, None].to(dtype), align_corners=False)
        return self.proj(sampled[..., 0].mean(dim=-1))  # [R, C]
