"""A decoder plugin that lives only in the tests: it regresses one point-box per link target.

It stands in for the real detection/pose decoders (written elsewhere) and shows that a plugin needs
no core edit: it is registered here and reached through ``custom_imports`` in a config.

Target ``t`` of a sample is (normalised to the decoder view) the box of the first ground-truth
instance with label ``t``; for pose samples (``link_tokens`` all ``[POSE]``) target 0 is the person
box and target ``k >= 1`` the degenerate box ``(x, y, x, y)`` of keypoint ``k - 1``.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmvisionllm.models.decoders import BaseLinkDecoder
from mmvisionllm.registry import MODELS


@MODELS.register_module(force=True)
class ToyPointLinkDecoder(BaseLinkDecoder):
    """Linear head on the mean of the N link embeddings -> a box in [0, 1] per target."""

    def __init__(self,
                 routing_tokens: Sequence[str] = ('[DET]', '[GRD]'),
                 num_queries: int = 2,
                 in_channels: int = 0,
                 hidden_channels: int = 64,
                 context_tokens: Sequence[str] = (),
                 init_cfg=None) -> None:
        super().__init__(
            routing_tokens,
            num_queries,
            in_channels,
            context_tokens=context_tokens,
            init_cfg=init_cfg)
        self.head = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.ReLU(), nn.Linear(hidden_channels, 4))
        self.calls: List[dict] = []

    def _boxes(self, link_embeds: Tensor) -> Tensor:
        return self.head(link_embeds.mean(dim=2)).sigmoid()  # [B, T, 4]

    @staticmethod
    def _targets(sample, num_targets: int, height: int, width: int) -> tuple:
        boxes = torch.zeros(num_targets, 4)
        valid = torch.zeros(num_targets, dtype=torch.bool)
        gt = sample.get('gt_instances', None)
        if gt is None or 'labels' not in gt:  # e.g. text-to-image samples: nothing to regress
            return boxes, valid
        scale = torch.tensor([width, height, width, height], dtype=torch.float32)
        is_pose = all(tok == '[POSE]' for tok in sample.metainfo.get('link_tokens', []))
        for t in range(num_targets):
            if is_pose and t > 0 and 'keypoints' in gt and len(gt.keypoints) > 0:
                x, y = torch.as_tensor(gt.keypoints[0][t - 1], dtype=torch.float32).tolist()
                boxes[t] = torch.tensor([x, y, x, y]) / scale
                valid[t] = True
                continue
            label = 0 if is_pose else t
            hits = torch.nonzero(torch.as_tensor(gt.labels) == label).flatten()
            if len(hits) > 0:
                boxes[t] = torch.as_tensor(gt.bboxes[int(hits[0])], dtype=torch.float32) / scale
                valid[t] = True
        return boxes, valid

    def loss(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
             data_samples) -> Dict[str, Tensor]:
        self.calls.append(
            dict(
                mode='loss',
                shape=tuple(link_embeds.shape),
                link_tokens=[s.metainfo.get('link_tokens') for s in data_samples]))
        pred = self._boxes(link_embeds)
        targets, valid = [], []
        for row, sample in enumerate(data_samples):
            height, width = (
                images[row].shape[-2:] if images is not None else sample.metainfo.get(
                    'img_shape', (1, 1))[:2])
            boxes, ok = self._targets(sample, link_embeds.shape[1], height, width)
            targets.append(boxes)
            valid.append(ok)
        target = torch.stack(targets).to(pred)
        weight = (torch.stack(valid).to(link_mask.device) & link_mask).to(pred.dtype)[..., None]
        loss = ((pred - target).abs() * weight).sum() / weight.sum().clamp(min=1) / 4
        return dict(loss_box=loss, box_targets=weight.sum().detach())

    def predict(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
                data_samples) -> list:
        self.calls.append(dict(mode='predict', shape=tuple(link_embeds.shape)))
        pred = self._boxes(link_embeds)
        for row, sample in enumerate(data_samples):
            height, width = sample.metainfo.get('ori_shape', (1, 1))[:2]
            keep = link_mask[row]
            scale = pred.new_tensor([width, height, width, height])
            instances = InstanceData()
            instances.bboxes = pred[row][keep] * scale
            instances.labels = torch.nonzero(keep).flatten()
            instances.scores = torch.ones(int(keep.sum()))
            sample.pred_instances = instances
        return data_samples
