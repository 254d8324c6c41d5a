"""The detection / segmentation / grounding decoder plugin of the super link: [DET] [SEG] [GRD].

One Grounding DINO serves the three routing tokens, as in VisionLLM v2:

* link embeddings [B, T, N, C] → MLP C→256 → mean over the N queries → [B, T, 256] "text" features,
  used where Grounding DINO used BERT tokens (one token per target; each token is its own
  sub-sentence: position id 0 and self-attention to itself only, so the targets' order carries no
  meaning); ``link_mask`` is the text token mask. Optionally (``link_norm_cfg``, e.g. BN1d) the
  features of the real targets are normalised over the batch first: a small from-scratch LLM's
  query hidden states share one large component, which turns the contrastive logits into an
  objectness ranking scaled per target; normalising leaves what tells the targets apart;
* ``[DET]``: the targets are class names, detection label i = target i, mapped to the dataset's
  label with metainfo ``target_label_ids`` when present;
* ``[SEG]``: the same plus the mask branch (losses and predicted ``masks``);
* ``[GRD]``: one target (the referring expression); the top-``grounding_topk`` boxes (default 1).

The decoder view (``images``: uint8 [3, H, W] each) is normalised and padded by the detector's mmdet
``DetDataPreprocessor`` (instance masks are padded by the plugin, as batches mix samples with and
without masks); ``gt_instances`` are in that view's coordinates and predictions are rescaled to the
original image with ``scale_factor`` as mmdet does, so mmdet's ``CocoMetric`` (bbox, segm) and
``RefExpMetric`` read ``pred_instances`` unchanged.

Reused: mmdet's ``MLP`` (link projection), mmcv's ``build_norm_layer`` (the optional link
normalisation), ``DetDataSample``/``InstanceData``, and everything in
:class:`~.link_grounding_dino.LinkGroundingDINO` (mmdet Grounding DINO without BERT).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmcv.cnn import build_norm_layer
from mmdet.models.layers import MLP
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from torch import Tensor

from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample
from ..base_link_decoder import BaseLinkDecoder

__all__ = ['LinkGroundingDINODecoder']


@MODELS.register_module()
class LinkGroundingDINODecoder(BaseLinkDecoder):
    """Grounding DINO decoder plugin driven by link embeddings.

    Args:
        detector (dict): config of :class:`~.link_grounding_dino.LinkGroundingDINO` (with its
            ``data_preprocessor``, an mmdet ``DetDataPreprocessor``).
        in_channels (int): Width C of the link embeddings (the LLM hidden size).
        routing_tokens (Sequence[str]): Tokens routed here. Defaults to ``('[DET]', '[SEG]',
            '[GRD]')``.
        num_queries (int): Link queries per target (N). Defaults to 4 (paper).
        mask_tokens (Sequence[str]): Tokens whose samples get mask losses and mask predictions.
        grounding_tokens (Sequence[str]): Tokens whose samples refer to one object.
        masks_for_all (bool): Supervise and predict masks for every sample with mask ground truth,
            whatever its token. Defaults to False.
        grounding_topk (int): Boxes kept for a grounding sample, best first. Defaults to 1.
        link_norm_cfg (dict, optional): Norm layer over the batch's target features (mmcv
            ``build_norm_layer``, e.g. ``dict(type='BN1d')``); padded targets are left out of its
            statistics. Defaults to None (no normalisation, as Grounding DINO's BERT features).
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 detector: dict,
                 in_channels: int,
                 routing_tokens: Sequence[str] = ('[DET]', '[SEG]', '[GRD]'),
                 num_queries: int = 4,
                 mask_tokens: Sequence[str] = ('[SEG]', ),
                 grounding_tokens: Sequence[str] = ('[GRD]', ),
                 masks_for_all: bool = False,
                 grounding_topk: int = 1,
                 link_norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(routing_tokens, num_queries, in_channels, init_cfg=init_cfg)
        self.detector = MODELS.build(detector)
        embed_dims = self.detector.embed_dims
        self.link_proj = MLP(self.in_channels, embed_dims, embed_dims, 2)
        self.mask_tokens = tuple(mask_tokens)
        self.grounding_tokens = tuple(grounding_tokens)
        self.masks_for_all = masks_for_all
        self.grounding_topk = grounding_topk
        self.link_norm = None
        if link_norm_cfg is not None:
            self.link_norm = build_norm_layer(link_norm_cfg, embed_dims)[1]

    def text_dict(self, link_embeds: Tensor, link_mask: Tensor) -> Dict[str, Tensor]:
        """Turn link embeddings into Grounding DINO's text inputs.

        Args:
            link_embeds (Tensor): [B, T, N, C] link embeddings.
            link_mask (Tensor): [B, T] bool, True where a target exists.

        Returns:
            dict: ``embedded`` [B, T, 256], ``text_token_mask`` [B, T] bool, ``position_ids``
            [B, T] long (zeros) and ``masks`` [B, T, T] bool (identity: a target attends to itself).
        """
        weight = self.link_proj.layers[0].weight
        embedded = self.link_proj(link_embeds.to(weight.dtype)).mean(dim=2)
        batch_size, num_targets = link_mask.shape
        device = embedded.device
        token_mask = link_mask.to(device=device, dtype=torch.bool)
        if self.link_norm is not None:
            embedded = self._normalise_targets(embedded, token_mask)
        self_masks = torch.eye(num_targets, dtype=torch.bool, device=device)
        return dict(
            embedded=embedded,
            text_token_mask=token_mask,
            position_ids=torch.zeros((batch_size, num_targets), dtype=torch.long, device=device),
            masks=self_masks.unsqueeze(0).expand(batch_size, -1, -1).contiguous())

    def _normalise_targets(self, embedded: Tensor, token_mask: Tensor) -> Tensor:
        """Apply ``link_norm`` to the real targets' features [K, 256] (padding stays zero).

        A training batch with a single target cannot give batch statistics; it is normalised with
        the running ones.
        """
        rows = embedded[token_mask]
        if self.training and rows.size(0) < 2:
            self.link_norm.eval()
            rows = self.link_norm(rows)
            self.link_norm.train()
        else:
            rows = self.link_norm(rows)
        normalised = embedded.new_zeros(embedded.shape)
        normalised[token_mask] = rows
        return normalised

    def emitted_targets_error(self, routing_tokens: Sequence[str]) -> Optional[str]:
        """More targets than the head's text length cannot be decoded in one pass."""
        max_targets = self.detector.bbox_head.max_text_len
        if len(routing_tokens) > max_targets:
            return (f'{type(self).__name__} reads at most {max_targets} targets '
                    f'(max_text_len of the head); the answer emitted {len(routing_tokens)}')
        return None

    def _wants_masks(self, token: str) -> bool:
        return self.masks_for_all or token in self.mask_tokens

    def _detector_sample(self, sample: MMDataSample, image: Tensor, num_targets: int,
                         training: bool) -> DetDataSample:
        """A DetDataSample for the detector: image meta of the decoder view (+ gt in training)."""
        img_h, img_w = image.shape[-2:]
        meta = sample.metainfo
        ori_shape = tuple(meta.get('ori_shape', (img_h, img_w)))[:2]
        scale_factor = meta.get('scale_factor', (img_w / ori_shape[1], img_h / ori_shape[0]))
        det_sample = DetDataSample(
            metainfo=dict(
                img_id=meta.get('img_id'),
                img_path=meta.get('img_path'),
                img_shape=(img_h, img_w),
                ori_shape=ori_shape,
                scale_factor=tuple(scale_factor)))
        if training:
            gt = sample.gt_instances
            labels = gt.labels.long()
            if len(labels) and int(labels.max()) >= num_targets:
                raise ValueError(f'gt label {int(labels.max())} has no target: the sample has '
                                 f'{num_targets} link targets')
            instances = InstanceData(bboxes=gt.bboxes, labels=labels)
            if 'masks' in gt and self._wants_masks(self.routing_token(sample)):
                instances.masks = gt.masks
            det_sample.gt_instances = instances
        return det_sample

    def _preprocess(self, link_mask: Tensor, images: Optional[List[Tensor]],
                    data_samples: List[MMDataSample], training: bool) -> Tuple[Tensor, list]:
        """Normalise/pad the decoder views with the detector's DetDataPreprocessor."""
        if images is None or any(image is None for image in images):
            raise ValueError(f'{type(self).__name__} needs the decoder image view of every sample')
        num_targets = link_mask.sum(dim=1).tolist()
        det_samples = [
            self._detector_sample(sample, image, int(n), training)
            for sample, image, n in zip(data_samples, images, num_targets)
        ]
        data = self.detector.data_preprocessor(
            dict(inputs=list(images), data_samples=det_samples), training)
        for det_sample in data['data_samples']:
            # DetDataPreprocessor(pad_mask=True) looks at the first sample only; batches mixing
            # [SEG] with [DET]/[GRD] samples are padded here instead
            gt = det_sample.get('gt_instances')
            if gt is not None and 'masks' in gt:
                pad_shape = det_sample.batch_input_shape
                if (gt.masks.height, gt.masks.width) != tuple(pad_shape):
                    gt.masks = gt.masks.pad(pad_shape, pad_val=0)
        return data['inputs'], data['data_samples']

    def loss(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
             data_samples: List[MMDataSample]) -> Dict[str, Tensor]:
        """Grounding DINO losses (+ mask losses for ``[SEG]`` samples).

        Args:
            link_embeds (Tensor): [B, T, N, C] link embeddings.
            link_mask (Tensor): [B, T] bool.
            images (list[Tensor]): uint8 [3, H, W] decoder views.
            data_samples (list[MMDataSample]): ``gt_instances`` in the decoder view, labels index
                the targets.

        Returns:
            dict[str, Tensor]: mmdet-named losses (``loss_cls``, ``loss_bbox``, ``loss_iou``,
            ``loss_mask``, ``loss_dice``, ``d{i}.*``, ``enc_loss_*``, ``dn_loss_*``).
        """
        inputs, det_samples = self._preprocess(link_mask, images, data_samples, training=True)
        return self.detector.loss(
            inputs, det_samples, text_dict=self.text_dict(link_embeds, link_mask))

    def predict(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
                data_samples: List[MMDataSample]) -> List[MMDataSample]:
        """Fill ``pred_instances`` in original-image coordinates.

        Args:
            link_embeds (Tensor): [B, T, N, C] link embeddings.
            link_mask (Tensor): [B, T] bool.
            images (list[Tensor]): uint8 [3, H, W] decoder views.
            data_samples (list[MMDataSample]): the samples to fill.

        Returns:
            list[MMDataSample]: ``pred_instances`` with ``bboxes`` [k, 4] xyxy, ``scores`` [k],
            ``labels`` [k] (dataset labels via ``target_label_ids``, else target indices) and, for
            ``[SEG]``, ``masks`` [k, H, W] bool; grounding samples keep their best boxes only.
        """
        inputs, det_samples = self._preprocess(link_mask, images, data_samples, training=False)
        tokens = [self.routing_token(sample) for sample in data_samples]
        det_samples = self.detector.predict(
            inputs,
            det_samples,
            rescale=True,
            text_dict=self.text_dict(link_embeds, link_mask),
            with_masks=[self._wants_masks(token) for token in tokens])
        for sample, det_sample, token in zip(data_samples, det_samples, tokens):
            instances = det_sample.pred_instances
            del instances.query_index
            if token in self.grounding_tokens:
                instances = instances[:self.grounding_topk]
            label_ids = sample.metainfo.get('target_label_ids')
            if label_ids is not None and len(instances):
                instances.labels = torch.as_tensor(
                    label_ids, dtype=torch.long, device=instances.labels.device)[instances.labels]
            sample.pred_instances = instances
        return data_samples
