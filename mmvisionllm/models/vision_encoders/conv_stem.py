"""Convolutional stem for a random-init CLIP tower (a ViT with early convolutions).

A from-scratch ViT with a patchify stem learns little about shape from a few thousand images:
trained to tell which ShapesWorld shapes are in a 64 px view (2000 images, 1000 steps), a tiny
CLIP tower scored 0.58-0.71 per shape on held-out images apart from the stick figure (0.94),
about what a constant guess gets (0.54-0.69); the same tower with this stem scored 0.81-1.00
(docs/en/training_recipe.md). The stem replaces the tower's patch
embedding — a strided conv — by 3x3 conv blocks and 2x2 max-pools down to the same patch grid, as
in Xiao et al., "Early Convolutions Help Transformers See Better" (2021). The blocks are mmcv's
``ConvModule`` (conv + norm + ReLU).
"""
from typing import Optional, Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmvisionllm.registry import MODELS

__all__ = ['ConvStem']


@MODELS.register_module()
class ConvStem(BaseModule):
    """3x3 conv blocks, each followed by a 2x2 max-pool, then a 1x1 conv to the tower width.

    Args:
        out_channels (int): Width of the patch embeddings (the tower's ``hidden_size``).
        patch_size (int): Total stride; must be ``2 ** len(channels)``.
        channels (Sequence[int]): Width of each conv block. Defaults to (32, 64, 128).
        norm_cfg (dict): mmcv norm layer of each block. Defaults to BN.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 out_channels: int,
                 patch_size: int,
                 channels: Sequence[int] = (32, 64, 128),
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if 2**len(channels) != patch_size:
            raise ValueError(f'ConvStem: {len(channels)} blocks halve the image {len(channels)} '
                             f'times (stride {2**len(channels)}), but the patch size is '
                             f'{patch_size}')
        layers = []
        in_channels = 3
        for width in channels:
            layers += [
                ConvModule(in_channels, width, 3, padding=1, norm_cfg=norm_cfg or dict(type='BN')),
                nn.MaxPool2d(2)
            ]
            in_channels = width
        self.blocks = nn.Sequential(*layers)
        self.proj = nn.Conv2d(in_channels, out_channels, 1)

    @property
    def weight(self) -> Tensor:
        """The output conv's weight: HF's CLIP embeddings read the dtype of ``weight``."""
        return self.proj.weight

    def forward(self, pixel_values: Tensor) -> Tensor:
        """[N, 3, S, S] tiles -> [N, C, S / patch_size, S / patch_size] patch embeddings."""
        return self.proj(self.blocks(pixel_values))
