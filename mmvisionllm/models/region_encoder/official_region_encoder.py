"""Region encoder laid out as the released VisionLLM v2 checkpoint's ``region_encoder.*``.

The official design (read from the VisionLLM v2 code, written anew here) differs from
:class:`MaskPointRegionEncoder` in three ways:

* the conv stem: the 4-channel image+mask input goes through ``Conv(k=p/2, s=p/2)``, LayerNorm2d,
  GELU, ``Conv(k=2, s=2)``, LayerNorm2d, GELU and a 1x1 conv to the CLIP width, so its output lies
  on the CLIP patch grid (p = the CLIP patch size, 14: 336 px -> 24 x 24);
* the CLIP levels are ADDED, not concatenated: level k reads the running sum ``stem + f_1 + ... +
  f_k`` of the stem map and the first k of the last three CLIP hidden states (the official loop
  adds each level onto the same map, so the sums accumulate);
* each level's sum is read at the mask points, averaged, mapped to the LLM width by the shared
  ``up_dim`` Linear, and the three results are averaged.

Mask points: every mask pixel when the mask has at most ``num_points`` (2304 = 48 x 48) pixels;
otherwise a subset of ``num_points`` of them. The official code draws that subset at random in
every mode, so no two implementations agree on such masks; here training draws it at random too
(uniform, without replacement) and evaluation takes evenly spaced pixels of the row-major pixel
list, which makes evaluation repeatable. Pixel (y, x) of an H x W mask is read at the normalised
point (x / W, y / H) (the official convention: the pixel's corner, not its centre), bilinearly, zero
padding outside. An empty mask gives the ``up_dim`` bias (the official mean over no points is
turned into zeros).

Reused: ``mmcv.ops.point_sample`` (``grid_sample`` at [0, 1]-normalised points) and torch's
``nn.LayerNorm`` for the channel LayerNorm (:class:`LayerNorm2d` only moves the channel axis last
and back; mmcv/mmdet have no channels-first LayerNorm and transformers' ConvNeXt one is an internal
class of that model). Parameter names equal the official ones with ``region_encoder.`` stripped.
"""
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmcv.ops import point_sample
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmvisionllm.registry import MODELS

__all__ = ['OfficialRegionEncoder', 'LayerNorm2d']


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a [B, C, H, W] map (each pixel normalised on its own)."""

    def forward(self, x: Tensor) -> Tensor:
        """Normalise [B, C, H, W] over C."""
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@MODELS.register_module()
class OfficialRegionEncoder(BaseModule):
    """Encode mask prompts into LLM tokens with the official VisionLLM v2 region encoder.

    Same call interface as :class:`MaskPointRegionEncoder` (VisionLLMv2 fills the first four
    arguments).

    Args:
        out_channels (int): LLM width C (4096 for the 7B model).
        vision_channels (int): CLIP width C_v (1024); the stem's output width.
        grid_size (int): Side g of the CLIP patch grid (24); must equal S / patch_size.
        num_vision_layers (int): Number K of CLIP levels added in turn. Defaults to 3.
        stem_channels (int): Width of the stem's second conv (official ``hidden_dim``); the first
            has a quarter of it. Defaults to 256.
        patch_size (int): CLIP patch size (even); the first conv has kernel and stride
            ``patch_size // 2``. Defaults to 14.
        num_points (int): Most points read per mask. Defaults to 2304.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 out_channels: int,
                 vision_channels: int,
                 grid_size: int,
                 num_vision_layers: int = 3,
                 stem_channels: int = 256,
                 patch_size: int = 14,
                 num_points: int = 2304,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if patch_size % 2:
            raise ValueError(f'patch_size must be even (kernel patch_size // 2, then 2), got '
                             f'{patch_size}')
        self.grid_size = grid_size
        self.patch_size = patch_size
        self.num_points = num_points
        self.num_vision_layers = num_vision_layers
        quarter = stem_channels // 4
        self.mask_embedding = nn.Sequential(
            nn.Conv2d(4, quarter, kernel_size=patch_size // 2, stride=patch_size // 2),
            LayerNorm2d(quarter, eps=1e-6), nn.GELU(),
            nn.Conv2d(quarter, stem_channels, kernel_size=2, stride=2),
            LayerNorm2d(stem_channels, eps=1e-6), nn.GELU(),
            nn.Conv2d(stem_channels, vision_channels, kernel_size=1))
        self.up_dim = nn.Linear(vision_channels, out_channels)

    def _mask_points(self, mask: Tensor) -> Tensor:
        """[P, 2] (x, y) points in [0, 1] of the pixels of ``mask`` [H, W] (P <= num_points)."""
        ys, xs = torch.nonzero(mask, as_tuple=True)
        count = ys.numel()
        if count > self.num_points:
            if self.training:
                index = torch.randperm(count, device=mask.device)[:self.num_points].sort()[0]
            else:
                index = torch.linspace(
                    0, count - 1, self.num_points, device=mask.device).round().long()
            ys, xs = ys[index], xs[index]
        height, width = mask.shape
        return torch.stack([xs.float() / width, ys.float() / height], dim=-1)

    def forward(self, thumbnail: Tensor, vision_layers: Tensor, masks: Sequence[Tensor]) -> Tensor:
        """Encode the regions of one image.

        Args:
            thumbnail (Tensor): [3, S, S] CLIP-normalised global thumbnail.
            vision_layers (Tensor): [K, L, C_v] CLIP hidden states of the last K layers of the
                thumbnail, CLS dropped (L = g * g).
            masks (Sequence[Tensor]): R masks [H_ori, W_ori]; resized (nearest) to S x S.

        Returns:
            Tensor: [R, C] one LLM token per region.
        """
        size = thumbnail.shape[-1]
        dtype = self.up_dim.weight.dtype
        mask_maps = torch.stack([
            F.interpolate(m[None, None].float(), size=(size, size), mode='nearest')[0]
            for m in masks
        ])  # [R, 1, S, S]
        images = thumbnail.to(dtype)[None].expand(len(masks), -1, -1, -1)
        fused = self.mask_embedding(torch.cat([images, mask_maps.to(dtype)], dim=1))
        if fused.shape[-1] != self.grid_size:
            raise ValueError(f'the stem maps {size} px to {fused.shape[-1]}, not the CLIP grid '
                             f'{self.grid_size}')
        points: List[Tensor] = [self._mask_points(m[0] != 0) for m in mask_maps]
        counts = torch.tensor([len(p) for p in points], device=fused.device)
        # [R, P, 2] zero padded (one padding row more, so P >= 1 even when every mask is empty)
        coords = nn.utils.rnn.pad_sequence(points + [fused.new_zeros(1, 2)], batch_first=True)[:-1]
        valid = torch.arange(coords.shape[1], device=fused.device)[None] < counts[:, None]
        k, num_tokens, channels = vision_layers.shape
        levels = vision_layers.to(dtype).permute(0, 2, 1).reshape(k, channels, self.grid_size,
                                                                  self.grid_size)
        outs = []
        for level in levels:
            fused = fused + level[None]  # the running sum of the official loop
            sampled = point_sample(fused.float(), coords, align_corners=False).to(dtype)
            sampled = sampled.transpose(1, 2) * valid[..., None]  # [R, P, C_v]
            mean = sampled.sum(1) / counts[:, None].clamp(min=1)
            outs.append(self.up_dim(mean))
        return torch.stack(outs).mean(dim=0)

    def convert_official_state_dict(self, official: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Map official ``region_encoder.*`` tensors (prefix stripped) to this module's names.

        The names are the same; the method checks that every official tensor has a place of the
        right shape and that every parameter of this module is given.

        Raises:
            KeyError: listing the official keys without a place here (unknown name or shape
                mismatch) and this module's tensors that the official dict lacks.
        """
        ours = self.state_dict()
        unplaced = [
            f'{k} {tuple(v.shape)}' for k, v in official.items()
            if k not in ours or tuple(ours[k].shape) != tuple(v.shape)
        ]
        missing = sorted(set(ours) - set(official))
        if unplaced or missing:
            raise KeyError(f'OfficialRegionEncoder: official keys not placed: {unplaced}; '
                           f'tensors of ours not given: {missing}')
        return dict(official)
