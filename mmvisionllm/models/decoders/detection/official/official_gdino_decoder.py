"""The official VisionLLM v2 Grounding DINO as a link-decoder plugin: [DET] [SEG] [GRD].

Same parameter names as the released checkpoint's ``gdino.*``
(``OVGroundingDinoForObjectDetection``, prefix stripped), so
:meth:`OfficialGroundingDinoDecoder.convert_official_state_dict` is identity up to the Swin renames
of transformers 5 and the alias groups (:mod:`.official_gdino_convert`).

* link states [B, T, N, C] -> ``patch2query`` (3-layer MLP C -> 256 -> 256 -> 256, mmdet's ``MLP``)
  -> mean over the N link queries -> class features [B, T, 256];
* :class:`~.official_gdino_transformer.OfficialGroundingDinoTransformer` (``model``) and, per
  decoder layer, the contrastive class logits, the shared box MLP ``bbox_embed`` (refinement on the
  layer's reference boxes) and the shared mask MLP ``mask_embed`` (dot product with the 1/4-scale
  mask features);
* prediction follows the official eval post-processing: sigmoid, top-k over queries x used class
  slots, boxes to pixels, masks upsampled x4, cropped to the valid image, resized to the original
  image and thresholded at 0.5.

Reused: transformers' Grounding DINO building blocks (see the transformer module), mmdet's ``MLP``
and ``DetDataPreprocessor`` (normalise + zero-pad to 32, as the official
``nested_tensor_from_tensor_list``), mmdet's ``bbox_cxcywh_to_xyxy`` and, for the loss,
transformers' ``GroundingDinoHungarianMatcher`` / ``GroundingDinoImageLoss`` (focal loss over the
used class slots, L1 and GIoU, Hungarian matching with the same three costs), applied to every
decoder layer, to the two-stage encoder proposals and to the contrastive denoising queries
(:mod:`.official_gdino_denoising`) with the official weights, plus the point-sampled mask losses
(:mod:`.official_gdino_mask_loss`) for samples with mask ground truth.

Known differences from the official code (none affects a batch of one image): the text
self-attention masks are expanded per head in batch-major order (the official ``repeat`` pairs the
masks of different samples when B > 1); the valid-pixel mask comes from each view's size (the
official ``pixel_values[:, 0] != 0`` gives the same unless a valid pixel normalises to exactly 0);
the weights are initialised by PyTorch / transformers defaults, not by the official ``post_init``
(the decoder is meant to be loaded from the released checkpoint). As in the official loss, the box
count that normalises the losses is not all-reduced over ranks.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.layers import MLP
from mmdet.models.layers.transformer.utils import inverse_sigmoid
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from mmengine.structures import InstanceData
from torch import Tensor, nn
from transformers import GroundingDinoConfig, SwinConfig
from transformers.loss.loss_grounding_dino import (GroundingDinoHungarianMatcher,
                                                   GroundingDinoImageLoss)
from transformers.models.grounding_dino.modeling_grounding_dino import (
    GroundingDinoContrastiveEmbedding, GroundingDinoMLPPredictionHead)

from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample
from mmvisionllm.utils.dist_compat import is_multi_process
from ...base_link_decoder import BaseLinkDecoder
from .official_gdino_convert import convert_official_gdino
from .official_gdino_denoising import build_denoising_queries
from .official_gdino_mask_loss import point_mask_losses
from .official_gdino_transformer import OfficialGroundingDinoTransformer, padded_views

__all__ = ['OfficialGroundingDinoDecoder']

#: Swin-T of GDINO-T (the official ``SwinConfig``).
SWIN_T = dict(
    embed_dim=96,
    depths=[2, 2, 6, 2],
    num_heads=[3, 6, 12, 24],
    window_size=7,
    image_size=224,
    out_features=['stage1', 'stage2', 'stage3', 'stage4'])

#: The official loss weights and matching costs (train.py).
OFFICIAL_LOSS = dict(
    class_cost=2.0,
    bbox_cost=5.0,
    giou_cost=2.0,
    class_weight=2.0,
    bbox_weight=5.0,
    giou_weight=2.0,
    mask_weight=5.0,
    dice_weight=5.0,
    focal_alpha=0.25,
    num_points=12544)


@MODELS.register_module()
class OfficialGroundingDinoDecoder(BaseLinkDecoder):
    """The official GDINO (Swin-T, mask branch) fed by link states.

    Args:
        in_channels (int): Width C of the link states (LLM hidden size).
        routing_tokens (Sequence[str]): Tokens routed here.
        num_queries (int): Link queries per target (N). Defaults to 4.
        backbone (dict): ``SwinConfig`` arguments. Defaults to Swin-T.
        transformer (dict, optional): ``GroundingDinoConfig`` overrides (``d_model``,
            ``num_queries``, ``encoder_layers``, ...). Defaults: GDINO-T.
        mask_dim (int): Mask-feature channels. Defaults to 256.
        norm_groups (int): GroupNorm groups. Defaults to 32.
        data_preprocessor (dict, optional): mmdet ``DetDataPreprocessor`` config for the decoder
            views (uint8 RGB [3, H, W]). Defaults to ImageNet mean/std, pad to 32.
        mask_tokens (Sequence[str]): Tokens whose samples get masks predicted.
        grounding_tokens (Sequence[str]): Tokens whose samples keep ``grounding_topk`` boxes.
        grounding_topk (int): Boxes kept for a grounding sample. Defaults to 1.
        test_topk (int): Detections kept per image (official eval: 100).
        dn_number (int): Denoising queries of the official training (100); 0 trains without.
        loss_cfg (dict, optional): overrides of :data:`OFFICIAL_LOSS`.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 in_channels: int,
                 routing_tokens: Sequence[str] = ('[DET]', '[SEG]', '[GRD]'),
                 num_queries: int = 4,
                 backbone: Optional[dict] = None,
                 transformer: Optional[dict] = None,
                 mask_dim: int = 256,
                 norm_groups: int = 32,
                 data_preprocessor: Optional[dict] = None,
                 mask_tokens: Sequence[str] = ('[SEG]', ),
                 grounding_tokens: Sequence[str] = ('[GRD]', ),
                 grounding_topk: int = 1,
                 test_topk: int = 100,
                 dn_number: int = 100,
                 loss_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(routing_tokens, num_queries, in_channels, init_cfg=init_cfg)
        swin = SwinConfig(**dict(SWIN_T, **(backbone or {})))
        self.config = GroundingDinoConfig(backbone_config=swin, **(transformer or {}))
        d_model = self.config.d_model
        self.model = OfficialGroundingDinoTransformer(self.config, mask_dim, norm_groups)
        box_head = GroundingDinoMLPPredictionHead(d_model, d_model, 4, 3)
        mask_head = GroundingDinoMLPPredictionHead(d_model, d_model, mask_dim, 3)
        class_head = GroundingDinoContrastiveEmbedding(self.config)
        num_layers = self.config.decoder_layers
        # one shared module per kind, listed once per decoder layer (as the official model)
        self.mask_embed = nn.ModuleList([mask_head] * num_layers)
        self.bbox_embed = nn.ModuleList([box_head] * num_layers)
        self.class_embed = nn.ModuleList([class_head] * num_layers)
        self.model.decoder.bbox_embed = self.bbox_embed
        self.model.decoder.class_embed = self.class_embed
        self.patch2query = MLP(self.in_channels, d_model, d_model, 3)
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='mmdet.DetDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                bgr_to_rgb=False,
                pad_size_divisor=32)
        self.image_preprocessor = MODELS.build(data_preprocessor)
        self.mask_tokens = tuple(mask_tokens)
        self.grounding_tokens = tuple(grounding_tokens)
        self.grounding_topk = grounding_topk
        self.test_topk = test_topk
        self.dn_number = dn_number
        self.loss_cfg = dict(OFFICIAL_LOSS, **(loss_cfg or {}))

    # ----------------------------------------------------------------------------- conversion
    def convert_official_state_dict(self, official: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Official ``gdino.*`` tensors (prefix stripped) -> our keys (see the convert module).

        Raises:
            KeyError: listing every official key that could not be placed and every key of ours
                left empty.
        """
        target = self.state_dict(keep_vars=True)
        persistent = set(target)
        buffers = {name: buf for name, buf in self.named_buffers() if name not in persistent}
        return convert_official_gdino(official, target, buffers)

    # ----------------------------------------------------------------------------- forward
    def class_features(self, link_embeds: Tensor) -> Tensor:
        """[B, T, N, C] link states -> [B, T, d_model] class features (patch2query, mean)."""
        weight = self.patch2query.layers[0].weight
        return self.patch2query(link_embeds.to(weight.dtype)).mean(dim=-2)

    def forward_official(self,
                         pixel_values: Tensor,
                         pixel_mask: Tensor,
                         text_query: Tensor,
                         text_query_masks: Tensor,
                         with_masks: bool = True,
                         topk_index: Optional[Tensor] = None,
                         dn: Optional[dict] = None,
                         class_features: Optional[Tensor] = None,
                         with_encoder_masks: bool = False) -> Dict[str, Tensor]:
        """The official ``forward_test`` computation (case C of the reference).

        Args:
            pixel_values (Tensor): [B, 3, H, W] normalised, zero-padded images.
            pixel_mask (Tensor): [B, H, W] bool, True at valid pixels.
            text_query (Tensor): [B, T, N, C] link states.
            text_query_masks (Tensor): [B, T] bool, True for used class slots.
            with_masks (bool): compute the mask logits.
            topk_index (Tensor, optional): [B, num_queries] teacher-forced two-stage selection.
            dn (dict, optional): denoising queries from
                :func:`~.official_gdino_denoising.build_denoising_queries`; their outputs are
                returned apart as ``dn_all_logits`` / ``dn_all_boxes`` [L, B, D, ...].
            class_features (Tensor, optional): [B, T, d_model] ``patch2query`` output of
                ``text_query`` when already computed.
            with_encoder_masks (bool): also ``enc_masks`` [B, num_queries, H/4, W/4], the
                encoder-stage masks of the query embeddings (for their loss).

        Returns:
            dict: ``logits`` [B, Q, 256], ``pred_boxes`` [B, Q, 4] (cxcywh, normalised to the
            valid image), ``pred_masks`` [B, Q, H/4, W/4] (when asked), per-layer
            ``all_logits`` [L, B, Q, 256] / ``all_boxes`` [L, B, Q, 4] and the transformer's
            outputs (``topk_index``, ``enc_topk_logits``, ``memory`` ...).
        """
        text_features = self.class_features(text_query) if class_features is None \
            else class_features
        token_mask = text_query_masks.to(device=text_features.device, dtype=torch.bool)
        out = self.model(
            pixel_values,
            pixel_mask.bool(),
            text_features,
            token_mask,
            topk_index=topk_index,
            with_encoder_masks=with_encoder_masks,
            **{k: dn[k]
               for k in ('dn_queries', 'dn_boxes', 'dn_attn_mask')} if dn else {})
        hidden = out['intermediate_hidden_states']
        refs = out['intermediate_reference_points']
        all_logits, all_boxes, all_masks = [], [], []
        for level in range(hidden.shape[1]):
            reference = out['init_reference_points'] if level == 0 else refs[:, level - 1]
            state = hidden[:, level]
            all_logits.append(self.class_embed[level](state, out['memory_text'], token_mask))
            all_boxes.append((self.bbox_embed[level](state) + inverse_sigmoid(reference)).sigmoid())
            if with_masks:
                all_masks.append(
                    torch.einsum('bqc,bchw->bqhw', self.mask_embed[level](state),
                                 out['mask_features']))
        out['all_logits'] = torch.stack(all_logits).float()
        out['all_boxes'] = torch.stack(all_boxes).float()
        if dn:  # denoising queries first, then the matching ones
            num_dn = dn['dn_queries'].shape[1]
            out['dn_all_logits'] = out['all_logits'][:, :, :num_dn]
            out['dn_all_boxes'] = out['all_boxes'][:, :, :num_dn]
            out['all_logits'] = out['all_logits'][:, :, num_dn:]
            out['all_boxes'] = out['all_boxes'][:, :, num_dn:]
            if with_masks:
                out['dn_all_masks'] = torch.stack([m[:, :num_dn] for m in all_masks]).float()
            all_masks = [mask[:, num_dn:] for mask in all_masks]
        out['logits'] = out['all_logits'][-1]
        out['pred_boxes'] = out['all_boxes'][-1]
        if with_masks:
            out['all_masks'] = torch.stack(all_masks).float()
            out['pred_masks'] = out['all_masks'][-1]
        return out

    # ----------------------------------------------------------------------------- plumbing
    def emitted_targets_error(self, routing_tokens: Sequence[str]) -> Optional[str]:
        """More targets than ``max_text_len`` cannot be decoded in one pass."""
        if len(routing_tokens) > self.config.max_text_len:
            return (f'{type(self).__name__} reads at most {self.config.max_text_len} targets; '
                    f'the answer emitted {len(routing_tokens)}')
        return None

    def _preprocess(self, images: Optional[List[Tensor]],
                    training: bool) -> Tuple[Tensor, Tensor, List[Tuple[int, int]]]:
        """Normalise / pad the decoder views; the valid-pixel mask and each view's size."""
        return padded_views(self.image_preprocessor, images, training, type(self).__name__)

    # ----------------------------------------------------------------------------- predict
    def predict(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
                data_samples: List[MMDataSample]) -> List[MMDataSample]:
        """Fill ``pred_instances`` (original-image coordinates) of the samples.

        Args:
            link_embeds (Tensor): [B, T, N, C] link states.
            link_mask (Tensor): [B, T] bool.
            images (list[Tensor]): uint8 [3, H, W] decoder views.
            data_samples (list[MMDataSample]): the samples to fill.

        Returns:
            list[MMDataSample]: ``pred_instances`` with ``bboxes`` [k, 4] xyxy, ``scores``,
            ``labels`` (dataset labels via metainfo ``target_label_ids``, else target indices)
            and, for mask tokens, ``masks`` [k, H, W] bool.
        """
        pixel_values, pixel_mask, sizes = self._preprocess(images, training=False)
        tokens = [self.routing_token(sample) for sample in data_samples]
        with_masks = any(token in self.mask_tokens for token in tokens)
        out = self.forward_official(pixel_values, pixel_mask, link_embeds, link_mask, with_masks)
        for i, (sample, token) in enumerate(zip(data_samples, tokens)):
            num_targets = int(link_mask[i].sum())
            masks = out['pred_masks'][i] if token in self.mask_tokens else None
            instances = self._postprocess(out['logits'][i, :, :num_targets], out['pred_boxes'][i],
                                          masks, sizes[i], sample.metainfo)
            if token in self.grounding_tokens:
                instances = instances[:self.grounding_topk]
            label_ids = sample.metainfo.get('target_label_ids')
            if label_ids is not None and len(instances):
                instances.labels = torch.as_tensor(
                    label_ids, dtype=torch.long, device=instances.labels.device)[instances.labels]
            sample.pred_instances = instances
        return data_samples

    def _postprocess(self, logits: Tensor, boxes: Tensor, masks: Optional[Tensor],
                     view_size: Tuple[int, int], meta: dict) -> InstanceData:
        """The official eval post-processing of one image.

        Args:
            logits (Tensor): [Q, K] logits of the K used class slots.
            boxes (Tensor): [Q, 4] cxcywh normalised to the valid view.
            masks (Tensor, optional): [Q, H/4, W/4] mask logits of the padded view.
            view_size (tuple): (h, w) of the decoder view.
            meta (dict): the sample's metainfo (``ori_shape``, ``scale_factor``).
        """
        view_h, view_w = view_size
        ori_h, ori_w = tuple(meta.get('ori_shape', view_size))[:2]
        num_classes = logits.shape[-1]
        instances = InstanceData()
        if num_classes == 0:
            instances.bboxes = boxes.new_zeros((0, 4))
            instances.scores = boxes.new_zeros((0, ))
            instances.labels = torch.zeros((0, ), dtype=torch.long, device=boxes.device)
            if masks is not None:
                instances.masks = torch.zeros((0, ori_h, ori_w),
                                              dtype=torch.bool,
                                              device=boxes.device)
            return instances
        prob = logits.sigmoid().reshape(-1)
        scores, index = torch.topk(prob, min(self.test_topk, prob.numel()))
        query = torch.div(index, num_classes, rounding_mode='floor')
        labels = index % num_classes
        scale_factor = meta.get('scale_factor', (view_w / ori_w, view_h / ori_h))
        xyxy = bbox_cxcywh_to_xyxy(boxes[query]) * boxes.new_tensor(
            [view_w, view_h, view_w, view_h])
        xyxy = xyxy / xyxy.new_tensor(scale_factor).repeat(2)
        xyxy[:, 0::2] = xyxy[:, 0::2].clamp(0, ori_w)
        xyxy[:, 1::2] = xyxy[:, 1::2].clamp(0, ori_h)
        instances.bboxes = xyxy
        instances.scores = scores
        instances.labels = labels
        if masks is not None:
            mask = masks[query][:, None]
            mask = F.interpolate(
                mask, scale_factor=4, mode='bilinear', align_corners=False)[..., :view_h, :view_w]
            mask = F.interpolate(mask, size=(ori_h, ori_w), mode='bilinear', align_corners=False)
            instances.masks = mask[:, 0].sigmoid() > 0.5
        return instances

    # ----------------------------------------------------------------------------- loss
    def loss(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
             data_samples: List[MMDataSample]) -> Dict[str, Tensor]:
        """The official training loss.

        ``gt_instances``: ``bboxes`` xyxy in the decoder view, ``labels`` = target indices,
        optional ``masks`` (BitmapMasks or [n, h, w]) for mask-token samples. For every decoder
        layer, the two-stage proposals (``enc_``) and, with ``dn_number > 0``, the positive
        denoising copies (``dn_``, fixed assignment, normalised by boxes x groups): ``loss_ce``
        (focal over the used class slots), ``loss_bbox`` (L1), ``loss_giou`` and, when the batch
        has masks, ``loss_mask`` / ``loss_dice`` (point-sampled). Earlier layers are prefixed
        ``d{i}.``. Weights and matching costs are the official ones (:data:`OFFICIAL_LOSS`); as
        in the official matcher the costs are class, L1 and GIoU only.
        """
        pixel_values, pixel_mask, sizes = self._preprocess(images, training=True)
        pad_h, pad_w = pixel_values.shape[-2:]
        targets, mask_targets = [], []
        for sample, (h, w) in zip(data_samples, sizes):
            gt = sample.gt_instances
            boxes = gt.bboxes.to(pixel_values.device).float()
            scale = boxes.new_tensor([w, h, w, h])
            cxcywh = torch.cat([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]],
                               -1) / scale
            targets.append(dict(class_labels=gt.labels.long().to(boxes.device), boxes=cxcywh))
            mask_targets.append(self._padded_masks(sample, (pad_h, pad_w), boxes.device))
        use_masks = any(m is not None for m in mask_targets) or is_multi_process()
        class_features = self.class_features(link_embeds)
        dn = build_denoising_queries([t['class_labels'] for t in targets],
                                     [t['boxes'] for t in targets],
                                     class_features,
                                     self.config.num_queries,
                                     dn_number=self.dn_number,
                                     labelbook_size=self.config.max_text_len)
        out = self.forward_official(
            pixel_values,
            pixel_mask,
            link_embeds,
            link_mask,
            with_masks=use_masks,
            dn=dn,
            class_features=class_features,
            with_encoder_masks=use_masks)
        cfg = self.loss_cfg
        criterion = GroundingDinoImageLoss(
            matcher=GroundingDinoHungarianMatcher(
                class_cost=cfg['class_cost'],
                bbox_cost=cfg['bbox_cost'],
                giou_cost=cfg['giou_cost']),
            focal_alpha=cfg['focal_alpha'],
            losses=['labels', 'boxes'])
        max_len = self.config.max_text_len
        token_mask = link_mask.to(device=pixel_values.device, dtype=torch.bool)
        valid = F.pad(token_mask, (0, max_len - token_mask.shape[1]))
        eye = torch.eye(max_len, device=pixel_values.device)
        label_maps = tuple(eye for _ in range(len(targets)))
        weights = dict(
            loss_ce=cfg['class_weight'],
            loss_bbox=cfg['bbox_weight'],
            loss_giou=cfg['giou_weight'],
            loss_mask=cfg['mask_weight'],
            loss_dice=cfg['dice_weight'])
        num_boxes = float(max(sum(len(t['class_labels']) for t in targets), 1))

        def part_losses(logits: Tensor,
                        boxes: Tensor,
                        masks: Optional[Tensor],
                        indices=None) -> Dict[str, Tensor]:
            outputs = dict(
                logits=logits,
                pred_boxes=boxes,
                label_maps=label_maps,
                text_mask=valid[:, None, :].expand(-1, logits.shape[1], -1))
            norm = num_boxes
            if indices is None:
                indices = criterion.matcher(outputs, targets)
            else:  # the denoising copies: fixed assignment, one set per group
                norm = num_boxes * dn['num_groups']
            raw = {}
            for name in ('labels', 'boxes'):
                raw.update(criterion.get_loss(name, outputs, targets, indices, norm))
            if masks is not None:
                raw['loss_mask'], raw['loss_dice'] = point_mask_losses(
                    masks, mask_targets, indices, norm, num_points=cfg['num_points'])
            return {k: v * weights[k] for k, v in raw.items()}

        losses: Dict[str, Tensor] = {}
        num_layers = out['all_logits'].shape[0]
        dn_indices = self._dn_indices(targets, dn) if dn else None
        for level in range(num_layers):
            prefix = '' if level == num_layers - 1 else f'd{level}.'
            masks = out['all_masks'][level] if use_masks else None
            for key, value in part_losses(out['all_logits'][level], out['all_boxes'][level],
                                          masks).items():
                losses[prefix + key] = value
            if dn is not None:
                dn_masks = out['dn_all_masks'][level] if use_masks else None
                for key, value in part_losses(out['dn_all_logits'][level],
                                              out['dn_all_boxes'][level], dn_masks,
                                              dn_indices).items():
                    losses[prefix + 'dn_' + key] = value
            elif self.dn_number > 0:  # no ground truth in the batch: keep the keys
                zero = out['all_boxes'][level].sum() * 0
                for key in (weights if use_masks else list(weights)[:3]):
                    losses[prefix + 'dn_' + key] = zero
        for key, value in part_losses(out['enc_topk_logits'], out['enc_topk_boxes'],
                                      out.get('enc_masks')).items():
            losses['enc_' + key] = value
        return losses

    def _padded_masks(self, sample: MMDataSample, pad_shape: Tuple[int, int],
                      device: torch.device) -> Optional[Tensor]:
        """[n, H, W] float masks on the padded decoder view, or None (no mask supervision)."""
        gt = sample.gt_instances
        if 'masks' not in gt or self.routing_token(sample) not in self.mask_tokens:
            return None
        masks = gt.masks
        masks = masks.to_tensor(torch.float32, device) if hasattr(masks, 'to_tensor') else \
            torch.as_tensor(masks, device=device).float()
        padded = masks.new_zeros((masks.shape[0], ) + tuple(pad_shape))
        padded[:, :masks.shape[1], :masks.shape[2]] = masks
        return padded

    @staticmethod
    def _dn_indices(targets: List[dict], dn: dict) -> List[Tuple[Tensor, Tensor]]:
        """(query index, target index) of the positive denoising copies, per sample."""
        indices = []
        for target in targets:
            n = len(target['class_labels'])
            device = target['boxes'].device
            gt = torch.arange(n, device=device).repeat(dn['num_groups'])
            group = torch.arange(dn['num_groups'], device=device).repeat_interleave(n)
            indices.append((group * dn['group_size'] + gt, gt))
        return indices
