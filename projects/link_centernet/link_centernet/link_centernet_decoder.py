"""Boxes from link embeddings with mmdet's ``CenterNetHead``.

Each target (one routing token after a class name or a referring expression) modulates a small
convolutional feature map of the decoder's image view (FiLM: the mean of its N link embeddings
gives a per-channel scale and shift), and mmdet's ``CenterNetHead`` with a single class finds
"the object this link asks for": its centre heatmap, size and offset losses
(``GaussianFocalLoss``, ``L1Loss``) train on the target's ground-truth boxes, and its
``predict_by_feat`` decodes the peaks into boxes in original-image coordinates.

Reused: mmdet's ``CenterNetHead`` (targets, losses, decoding), mmcv's ``ConvModule``. Ours: the
FiLM conditioning (the head has no notion of a query) and the per-target flattening.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmvisionllm.models.decoders import BaseLinkDecoder
from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample

__all__ = ['LinkCenterNetDecoder']

_MEAN = (123.675, 116.28, 103.53)
_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class LinkCenterNetDecoder(BaseLinkDecoder):
    """One single-class CenterNet per link target.

    Args:
        head (dict): Config of the mmdet head, e.g. ``dict(type='CenterNetHead',
            _scope_='mmdet', num_classes=1, in_channels=64, feat_channels=64, ...)``; the nested
            loss types resolve in mmdet only with ``_scope_='mmdet'`` (a ``mmdet.`` prefix reaches
            the outer type only). ``num_classes`` must be 1.
        routing_tokens (Sequence[str]): Defaults to ``('[GRD]', )``.
        num_queries (int): N. Defaults to 4.
        in_channels (int): LLM width (filled in by the core).
        feat_channels (int): Width of the image features (= the head's ``in_channels``).
        image_size (int): Side of the decoder input. Defaults to 128 (stride 4: a 32x32 map).
        init_cfg (dict, optional): MMEngine initialisation config.

    Ground truth of target ``t``: the sample's ``gt_instances`` with label ``t`` (the core's
    datasets number labels by target order). Predictions: ``pred_instances`` with ``bboxes``,
    ``scores`` and ``labels`` (= the target index).
    """

    def __init__(self,
                 head: dict,
                 routing_tokens: Sequence[str] = ('[GRD]', ),
                 num_queries: int = 4,
                 in_channels: int = 0,
                 feat_channels: int = 64,
                 image_size: int = 128,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(routing_tokens, num_queries, in_channels, init_cfg=init_cfg)
        if head.get('num_classes', 1) != 1:
            raise ValueError('LinkCenterNetDecoder: the head finds the one object a link asks '
                             f'for, so head.num_classes must be 1, got {head["num_classes"]}')
        head = dict(head, num_classes=1, in_channels=feat_channels)
        if isinstance(head.get('test_cfg'), dict):  # the head reads test_cfg.topk
            head['test_cfg'] = ConfigDict(head['test_cfg'])
        self.head = MODELS.build(head)
        self.image_size = image_size
        norm = dict(type='BN')
        self.image_encoder = nn.Sequential(
            ConvModule(3, 32, 3, stride=2, padding=1, norm_cfg=norm),
            ConvModule(32, feat_channels, 3, stride=2, padding=1, norm_cfg=norm),
            ConvModule(feat_channels, feat_channels, 3, padding=1, norm_cfg=norm),
            ConvModule(feat_channels, feat_channels, 3, padding=1, norm_cfg=norm))
        self.film = nn.Linear(in_channels, 2 * feat_channels)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.register_buffer('pixel_mean', torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('pixel_std', torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def _features(self, link_embeds: Tensor, link_mask: Tensor,
                  images: Optional[List[Tensor]]) -> tuple:
        """Per target: the conditioned feature map ([n, D, S/4, S/4]) and its (row, t)."""
        if images is None or any(image is None for image in images):
            raise ValueError(f'{type(self).__name__} needs the image view of every sample')
        pixels = torch.cat([
            F.interpolate(
                image[None].float(),
                size=(self.image_size, ) * 2,
                mode='bilinear',
                align_corners=False) for image in images
        ]).to(self.pixel_mean.device)
        features = self.image_encoder((pixels - self.pixel_mean) / self.pixel_std)
        rows, targets = torch.nonzero(link_mask, as_tuple=True)
        scale, shift = self.film(link_embeds[rows, targets].mean(1).to(features.dtype)).chunk(2, -1)
        conditioned = features[rows] * (1 + scale[..., None, None]) + shift[..., None, None]
        return conditioned, rows.tolist(), targets.tolist()

    def _meta(self, sample: MMDataSample) -> dict:
        height, width = sample.metainfo.get('ori_shape', (self.image_size, self.image_size))[:2]
        return dict(
            img_shape=(self.image_size, self.image_size),
            batch_input_shape=(self.image_size, self.image_size),
            border=(0, 0, 0, 0),
            scale_factor=(self.image_size / width, self.image_size / height))

    def loss(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
             data_samples: List[MMDataSample]) -> Dict[str, Tensor]:
        """CenterNet's heatmap / size / offset losses on each target's boxes."""
        features, rows, targets = self._features(link_embeds, link_mask, images)
        gt_instances, metas = [], []
        for row, t in zip(rows, targets):
            sample = data_samples[row]
            meta = self._meta(sample)
            gt = sample.gt_instances
            keep = torch.as_tensor(gt.labels) == t
            boxes = torch.as_tensor(gt.bboxes, dtype=torch.float32)[keep]
            height, width = images[row].shape[-2:]  # boxes are in the image view's pixels
            boxes = boxes * boxes.new_tensor(
                [self.image_size / width, self.image_size / height] * 2)
            gt_instances.append(
                InstanceData(
                    bboxes=boxes.to(features.device),
                    labels=torch.zeros(len(boxes), dtype=torch.long, device=features.device)))
            metas.append(meta)
        heatmaps, sizes, offsets = self.head((features, ))
        return self.head.loss_by_feat(heatmaps, sizes, offsets, gt_instances, metas)

    @torch.no_grad()
    def predict(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
                data_samples: List[MMDataSample]) -> List[MMDataSample]:
        """Boxes per target, in original-image pixels."""
        features, rows, targets = self._features(link_embeds, link_mask, images)
        heatmaps, sizes, offsets = self.head((features, ))
        metas = [self._meta(data_samples[row]) for row in rows]
        results = self.head.predict_by_feat(heatmaps, sizes, offsets, metas, rescale=True)
        per_sample: Dict[int, List[InstanceData]] = {}
        for row, t, result in zip(rows, targets, results):
            result.labels = torch.full_like(result.labels, t)
            per_sample.setdefault(row, []).append(result)
        for row, sample in enumerate(data_samples):
            sample.pred_instances = InstanceData.cat(per_sample[row]) if row in per_sample \
                else InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0),
                                  labels=torch.zeros(0, dtype=torch.long))
        return data_samples
