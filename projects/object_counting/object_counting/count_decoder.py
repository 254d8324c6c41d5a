"""A counting decoder fed by link embeddings: a density map per target, summed.

For each target (one ``[CNT]`` after a class name) the N link embeddings are averaged and
projected to a query vector; a small convolutional encoder of the decoder's image view gives a
feature map; their dot product at every location, through softplus, is a density whose sum is the
count (the density-map counting of crowd counting, here conditioned on the LLM's link embedding
instead of a fixed class). Loss: smooth L1 between predicted and true counts.

Reuses mmcv's ``ConvModule`` (conv + BN + ReLU) and mmdet's ``SmoothL1Loss``; the density head is
a dot product, for which no library module exists.
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.models.losses import SmoothL1Loss
from torch import Tensor, nn

from mmvisionllm.models.decoders import BaseLinkDecoder
from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample

__all__ = ['CountLinkDecoder']

_MEAN = (123.675, 116.28, 103.53)
_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class CountLinkDecoder(BaseLinkDecoder):
    """Counts the objects each link embedding asks for.

    Args:
        routing_tokens (Sequence[str]): Defaults to ``('[CNT]', )``.
        num_queries (int): N link embeddings per target. Defaults to 4.
        in_channels (int): LLM width (filled in by the core).
        feat_channels (int): Width of the image features and of the query. Defaults to 64.
        image_size (int): Side the image view is resized to. Defaults to 128.
        max_count (int): Predictions are clamped to ``[0, max_count]``. Defaults to 20.
        loss_weight (float): Weight of the smooth-L1 count loss. Defaults to 1.0.
        init_cfg (dict, optional): MMEngine initialisation config.

    Predictions: metainfo ``pred_counts`` = {target name: rounded count} and ``pred_count_values``
    = {target name: the unrounded sum}.
    """

    def __init__(self,
                 routing_tokens: Sequence[str] = ('[CNT]', ),
                 num_queries: int = 4,
                 in_channels: int = 0,
                 feat_channels: int = 64,
                 image_size: int = 128,
                 max_count: int = 20,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(routing_tokens, num_queries, in_channels, init_cfg=init_cfg)
        self.image_size = image_size
        self.max_count = max_count
        norm = dict(type='BN')
        widths = (32, feat_channels, feat_channels, feat_channels)
        layers, previous = [], 3
        for width in widths:  # stride 2 each: 128 -> 8
            layers.append(ConvModule(previous, width, 3, stride=2, padding=1, norm_cfg=norm))
            previous = width
        layers.append(nn.Conv2d(previous, feat_channels, 1))
        self.image_encoder = nn.Sequential(*layers)
        self.link_proj = nn.Sequential(
            nn.Linear(in_channels, feat_channels), nn.GELU(),
            nn.Linear(feat_channels, feat_channels))
        self.density_bias = nn.Parameter(torch.tensor(-4.0))
        self.loss_count = SmoothL1Loss(beta=1.0, loss_weight=loss_weight)
        self.register_buffer('pixel_mean', torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('pixel_std', torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def _images(self, images: Optional[List[Tensor]], batch: int) -> Tensor:
        if images is None or any(image is None for image in images):
            raise ValueError(f'{type(self).__name__} counts in the image: every sample needs '
                             'its image view (inputs["image"])')
        resized = [
            F.interpolate(
                image[None].float(),
                size=(self.image_size, self.image_size),
                mode='bilinear',
                align_corners=False) for image in images
        ]
        pixels = torch.cat(resized).to(self.pixel_mean.device)
        return (pixels - self.pixel_mean) / self.pixel_std

    def counts(self, link_embeds: Tensor, images: Optional[List[Tensor]]) -> Tensor:
        """Predicted counts.

        Args:
            link_embeds (Tensor): [B, T, N, C].
            images (list[Tensor]): B uint8 [3, H, W] image views.

        Returns:
            Tensor: [B, T] non-negative counts.
        """
        features = self.image_encoder(self._images(images, link_embeds.shape[0]))  # [B, D, h, w]
        query = self.link_proj(link_embeds.mean(dim=2).to(features.dtype))  # [B, T, D]
        logits = torch.einsum('btd,bdhw->bthw', query, features) / math.sqrt(query.shape[-1])
        return F.softplus(logits + self.density_bias).sum(dim=(-2, -1))

    @staticmethod
    def _names(sample: MMDataSample, num_targets: int) -> List[str]:
        names = list(sample.metainfo.get('target_names') or [])
        if len(names) < num_targets:
            raise ValueError(f'sample {sample.metainfo.get("img_id")!r} has {num_targets} [CNT] '
                             f'targets but {len(names)} target_names')
        return names[:num_targets]

    def loss(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
             data_samples: List[MMDataSample]) -> Dict[str, Tensor]:
        """Smooth L1 between predicted and ``gt_counts`` (metainfo) counts."""
        predicted = self.counts(link_embeds, images)
        target = torch.zeros_like(predicted)
        for row, sample in enumerate(data_samples):
            gt_counts = sample.metainfo.get('gt_counts')
            if gt_counts is None:
                raise KeyError(f'sample {sample.metainfo.get("img_id")!r} has no gt_counts: the '
                               "count task declares it (gt_keys); is the sample's task 'count'?")
            num = int(link_mask[row].sum())
            for t, name in enumerate(self._names(sample, num)):
                target[row, t] = float(gt_counts[name])
        mask = link_mask.to(predicted.dtype)
        loss = self.loss_count(predicted, target, weight=mask, avg_factor=mask.sum().clamp(min=1))
        error = ((predicted.detach() - target).abs() * mask).sum() / mask.sum().clamp(min=1)
        return dict(loss_count=loss, count_mae=error)

    @torch.no_grad()
    def predict(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
                data_samples: List[MMDataSample]) -> List[MMDataSample]:
        """Write ``pred_counts`` / ``pred_count_values`` into each sample's metainfo."""
        predicted = self.counts(link_embeds, images)
        for row, sample in enumerate(data_samples):
            num = int(link_mask[row].sum())
            names = self._names(sample, num)
            values = predicted[row, :num].tolist()
            sample.set_metainfo(
                dict(
                    pred_counts={
                        n: int(min(max(round(v), 0), self.max_count))
                        for n, v in zip(names, values)
                    },
                    pred_count_values=dict(zip(names, values))))
        return data_samples
