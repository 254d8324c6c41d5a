"""The official VisionLLM v2 UniPose as a link-decoder plugin (person [DET], keypoints [POSE]).

Same parameter names as the released checkpoint's ``unipose.*`` (prefix stripped) except in the
reused library modules, renamed by :meth:`OfficialUniPoseDecoder.convert_official_state_dict`
(:mod:`.official_unipose_convert`).

* object link states [B, T_o, N, C] -> ``projection_llava`` (3-layer MLP C -> 256 -> 256 ->
  256, mmdet's ``MLP``) -> mean over N -> class features; keypoint link states ->
  ``projection_kpt_llava`` -> mean -> the content of the keypoint queries (left-aligned in
  ``num_body_points`` slots);
* ``backbone.0``: mmdet's ``SwinTransformer`` (Swin-T, stages 1-3 out, their ``norm{i}``), sine
  positions (transformers' ``GroundingDinoSinePositionEmbedding``, temperature 20), ``input_proj``
  (1x1 conv + GroupNorm per level, one stride-2 3x3 extra level) as the official model;
* :class:`~.official_unipose_transformer.OfficialUniPoseTransformer` and the official heads:
  contrastive class logits, the shared box MLP ``bbox_embed`` and keypoint MLP ``pose_embed``
  (refinements on the layer's reference boxes, official ``inverse_sigmoid`` eps 1e-3).

Prediction follows mmpose's bottom-up convention like :class:`UniPoseDecoder` (numpy
``keypoints`` [n, K, 2], ``keypoint_scores``, ``keypoints_visible``, ``bboxes`` xyxy, ``scores``,
``labels``), in original-image pixels. The official keypoint visibility output is the constant
sigmoid(1); it is reported as is.

Loss: the official matching losses (:mod:`.official_unipose_loss`) of every decoder layer and of
the two-stage proposals and, in training with ``dn_number > 0`` (the release trains with 100),
the contrastive denoising queries (:mod:`.official_unipose_denoising`): noised copies of the
ground-truth boxes whose content is the class feature of their (noised) label, put before the
matching queries, with their ``_dn`` class / box losses. Prediction never uses them.

Known differences from the official code (none affects a batch of one image with ground truth):
the text self-attention masks are expanded per head in batch-major order (the official ``repeat``
pairs the masks of different samples when B > 1); the valid-pixel mask comes from each view's
size. In a training batch without any ground truth and ``dn_number > 0``, the official model
runs its pose layers with no self-attention mask at all (its denoising preparation returns no
mask); here they keep the pose-group mask of the denoising training, and the ``_dn`` losses are
zeros under the names of the other batches (the official zero class term is ``loss_class_dn``,
outside its weight dict).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmdet.models.backbones import SwinTransformer
from mmdet.models.layers import MLP
from mmdet.models.layers.transformer.utils import inverse_sigmoid
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from mmengine.structures import InstanceData
from torch import Tensor, nn
from transformers import GroundingDinoConfig
from transformers.models.grounding_dino.modeling_grounding_dino import \
    GroundingDinoSinePositionEmbedding

from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample
from ...base_link_decoder import BaseLinkDecoder
from ...detection.official.official_gdino_transformer import padded_views
from .official_unipose_convert import convert_official_unipose
from .official_unipose_denoising import (OfficialUniPoseCdnGenerator, dn_pose_attention_mask,
                                         dn_positive_indices)
from .official_unipose_layers import contrastive_logits, pose_group_attention_mask
from .official_unipose_loss import (OFFICIAL_POSE_LOSS, OFFICIAL_SIGMAS_68, assigned_set_losses,
                                    pose_set_losses)
from .official_unipose_query_decoder import EPS
from .official_unipose_transformer import OfficialUniPoseTransformer

__all__ = ['OfficialUniPoseDecoder', 'SWIN_T', 'build_swin']

#: Swin-T of UniPose-T (``swin_T_224_1k``), mmdet ``SwinTransformer`` arguments.
SWIN_T = dict(
    pretrain_img_size=224,
    embed_dims=96,
    depths=(2, 2, 6, 2),
    num_heads=(3, 6, 12, 24),
    window_size=7,
    drop_path_rate=0.2,
    out_indices=(1, 2, 3))

#: transformer sizes of UniPose-T (``GroundingDinoConfig`` arguments).
UNIPOSE_T = dict(
    d_model=256,
    num_queries=900,
    encoder_layers=6,
    decoder_layers=6,
    encoder_ffn_dim=2048,
    decoder_ffn_dim=2048,
    encoder_attention_heads=8,
    decoder_attention_heads=8,
    num_feature_levels=4,
    encoder_n_points=4,
    decoder_n_points=4,
    positional_embedding_temperature=20,
    dropout=0.0,
    fusion_droppath=0.1,
    text_enhancer_dropout=0.0,
    fusion_dropout=0.0)


def build_swin(cfg: dict) -> SwinTransformer:
    """mmdet's ``SwinTransformer(**cfg)``, also under ``torch.device('meta')``.

    mmdet reads its drop-path rates with ``Tensor.item()``, which a meta tensor cannot answer;
    under the meta device the backbone is built on the CPU (Swin-T: 28 M parameters) and moved to
    meta, so that the converter tool and the name checks can build the whole model without memory.
    """
    if not torch.empty(0).is_meta:
        return SwinTransformer(**cfg)
    with torch.device('cpu'):
        swin = SwinTransformer(**cfg)
    return swin.to('meta')


@MODELS.register_module()
class OfficialUniPoseDecoder(BaseLinkDecoder):
    """The official UniPose-T (Swin-T, 68 body points, 50 pose groups) fed by link states.

    Args:
        in_channels (int): Width C of the link states (LLM hidden size).
        routing_tokens (Sequence[str]): Tokens routed here. Defaults to ``('[POSE]',)``.
        num_queries (int): Link queries per target (N). Defaults to 4.
        num_object_targets (int): leading targets that are object classes when the sample's
            metainfo has no ``link_tokens`` (else the ``[DET]`` targets are the objects).
        context_tokens (Sequence[str]): Tokens of other groups read here when they occur with a
            ``[POSE]`` link. Defaults to ``('[DET]',)``: an official pose answer links its
            person class through ``[DET]`` (the official model sends every link of a pose
            sample to UniPose), so those links come here, not to the detector.
        backbone (dict, optional): overrides of :data:`SWIN_T`.
        transformer (dict, optional): overrides of :data:`UNIPOSE_T`.
        num_body_points (int): keypoint slots K. Defaults to 68.
        num_box_decoder_layers (int): decoder layers before the pose groups. Defaults to 2.
        num_groups (int): pose groups. Defaults to 50.
        max_object_slots (int): object class slots (official 100).
        max_keypoint_slots (int): keypoint link slots (official 100; at most K are used).
        norm_groups (int): GroupNorm groups of ``input_proj``. Defaults to 32.
        data_preprocessor (dict, optional): mmdet ``DetDataPreprocessor`` config for the views.
        test_topk (int): pose instances kept per image. Defaults to 50.
        dn_number (int): contrastive denoising queries per polarity of the training (the
            release trains with 100; 0: matching losses only). Defaults to 0.
        dn_label_noise_ratio (float): twice the probability of a random label in a denoising
            query (official 0.5).
        dn_box_noise_scale (float): box noise scale of the denoising queries (official 1.0).
        dn_labelbook_size (int): upper bound of the random labels, capped by
            ``max_object_slots`` (official 2000, so 100).
        keypoint_sigmas (Sequence[float], optional): OKS sigmas of the keypoint slots (defaults
            to the official 68, COCO's 17 first).
        loss_cfg (dict, optional): overrides of :data:`OFFICIAL_POSE_LOSS`.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 in_channels: int,
                 routing_tokens: Sequence[str] = ('[POSE]', ),
                 num_queries: int = 4,
                 num_object_targets: int = 1,
                 context_tokens: Sequence[str] = ('[DET]', ),
                 backbone: Optional[dict] = None,
                 transformer: Optional[dict] = None,
                 num_body_points: int = 68,
                 num_box_decoder_layers: int = 2,
                 num_groups: int = 50,
                 max_object_slots: int = 100,
                 max_keypoint_slots: int = 100,
                 norm_groups: int = 32,
                 data_preprocessor: Optional[dict] = None,
                 test_topk: int = 50,
                 dn_number: int = 0,
                 dn_label_noise_ratio: float = 0.5,
                 dn_box_noise_scale: float = 1.0,
                 dn_labelbook_size: int = 2000,
                 keypoint_sigmas: Optional[Sequence[float]] = None,
                 loss_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            routing_tokens,
            num_queries,
            in_channels,
            context_tokens=context_tokens,
            init_cfg=init_cfg)
        self.config = GroundingDinoConfig(**dict(UNIPOSE_T, **(transformer or {})))
        d_model = self.config.d_model
        swin = dict(SWIN_T, **(backbone or {}))
        self.backbone = nn.ModuleList([build_swin(swin)])
        embed = swin['embed_dims']
        channels = [embed * 2**i for i in swin['out_indices']]
        self.position_embedding = GroundingDinoSinePositionEmbedding(self.config)
        proj = [
            nn.Sequential(nn.Conv2d(c, d_model, 1), nn.GroupNorm(norm_groups, d_model))
            for c in channels
        ]
        in_c = channels[-1]
        for _ in range(self.config.num_feature_levels - len(channels)):
            proj.append(
                nn.Sequential(
                    nn.Conv2d(in_c, d_model, 3, stride=2, padding=1),
                    nn.GroupNorm(norm_groups, d_model)))
            in_c = d_model
        self.input_proj = nn.ModuleList(proj)
        self.transformer = OfficialUniPoseTransformer(self.config, num_body_points,
                                                      num_box_decoder_layers, num_groups)
        self.projection_llava = MLP(self.in_channels, d_model, d_model, 3)
        self.projection_kpt_llava = MLP(self.in_channels, d_model, d_model, 3)
        box_head = MLP(d_model, d_model, 4, 3)
        pose_head = MLP(d_model, d_model, 2, 3)
        pose_hw_head = MLP(d_model, d_model, 2, 3)
        num_layers = self.config.decoder_layers
        num_pose = num_layers - num_box_decoder_layers
        # one shared module per kind, listed once per layer (as the official model)
        self.bbox_embed = nn.ModuleList([box_head] * num_layers)
        self.pose_embed = nn.ModuleList([pose_head] * (num_pose + 1))
        self.pose_hw_embed = nn.ModuleList([pose_hw_head] * num_pose)
        decoder = self.transformer.decoder
        decoder.bbox_embed = self.bbox_embed
        decoder.pose_embed = self.pose_embed
        decoder.pose_hw_embed = self.pose_hw_embed
        self.num_object_targets = num_object_targets
        self.num_body_points = num_body_points
        self.num_box_decoder_layers = num_box_decoder_layers
        self.num_groups = num_groups
        self.max_object_slots = max_object_slots
        self.max_keypoint_slots = max_keypoint_slots
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='mmdet.DetDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                bgr_to_rgb=False,
                pad_size_divisor=32)
        self.image_preprocessor = MODELS.build(data_preprocessor)
        self.test_topk = test_topk
        self.dn_number = dn_number
        self.dn_generator = OfficialUniPoseCdnGenerator(
            min(dn_labelbook_size, max_object_slots),
            d_model,
            self.config.num_queries,
            dn_number=dn_number,
            label_noise_scale=dn_label_noise_ratio,
            box_noise_scale=dn_box_noise_scale)
        self.keypoint_sigmas = list(keypoint_sigmas or OFFICIAL_SIGMAS_68)
        self.loss_cfg = dict(OFFICIAL_POSE_LOSS, **(loss_cfg or {}))

    # ----------------------------------------------------------------------------- conversion
    def convert_official_state_dict(self, official: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Official ``unipose.*`` tensors (prefix stripped) -> our keys (see the convert module).

        Raises:
            KeyError: listing every official key that could not be placed and every key of ours
                left empty.
        """
        return convert_official_unipose(official, self.state_dict(keep_vars=True))

    # ----------------------------------------------------------------------------- forward
    def image_levels(self, pixel_values: Tensor,
                     pixel_valid: Tensor) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        """Backbone -> the transformer's L sources, valid masks and position embeddings."""
        feats = self.backbone[0](pixel_values)
        sources, masks, positions = [], [], []

        def add(source: Tensor) -> None:
            mask = F.interpolate(pixel_valid[None].float(), size=source.shape[-2:]).bool()[0]
            sources.append(source)
            masks.append(mask)
            positions.append(self.position_embedding(source, mask).to(source.dtype))

        for level, feat in enumerate(feats):
            add(self.input_proj[level](feat))
        for level in range(len(feats), self.config.num_feature_levels):
            add(self.input_proj[level](feats[-1] if level == len(feats) else sources[-1]))
        return sources, masks, positions

    def keypoint_embeds(self, kpt_querys: Tensor, kpt_valid: Tensor) -> Tensor:
        """[B, M, N, C] keypoint link states -> [B, K, d] (used slots left-aligned, rest 0)."""
        batch = kpt_querys.shape[0]
        projected = self.projection_kpt_llava(kpt_querys).mean(-2)
        out = projected.new_zeros(batch, self.num_body_points, projected.shape[-1])
        for i in range(batch):
            num = int(kpt_valid[i].sum())
            if num > self.num_body_points:
                raise ValueError(f'at most {self.num_body_points} keypoints, got {num}')
            out[i, :num] = projected[i, :num]
        return out

    def forward_official(self,
                         pixel_values: Tensor,
                         pixel_valid: Tensor,
                         obj_querys: Tensor,
                         obj_query_masks: Tensor,
                         kpt_querys: Tensor,
                         kpt_query_masks: Tensor,
                         topk_index: Optional[Tensor] = None,
                         group_index: Optional[Tensor] = None,
                         dn_targets: Optional[List[dict]] = None) -> Dict[str, object]:
        """The official forward (eval: case D of the reference; training with ``dn_targets``).

        Args:
            pixel_values (Tensor): [B, 3, H, W] normalised, zero-padded images.
            pixel_valid (Tensor): [B, H, W] bool, True at valid pixels (the official
                ``NestedTensor`` mask is the inverse).
            obj_querys (Tensor): [B, T, N, C] object link states; obj_query_masks [B, T] bool.
            kpt_querys (Tensor): [B, M, N, C] keypoint link states; kpt_query_masks [B, M] bool.
            topk_index (Tensor, optional): [B, num_queries] teacher-forced two-stage selection.
            group_index (Tensor, optional): [B, G] teacher-forced pose-group selection.
            dn_targets (list[dict], optional): training targets (``labels``, normalised cxcywh
                ``boxes``); given, the contrastive denoising queries of these are put before the
                matching queries and their decoder rows are kept apart (``dn``, ``num_denoising``).

        Returns:
            dict: ``pred_logits`` [B, G, T], ``pred_boxes`` [B, G, 4] (cxcywh, normalised to the
            valid image), ``pred_keypoints`` [B, G, 3K] (K x (x, y) then K visibilities),
            ``projection_obj`` [B, T, N, d], ``dn`` (the denoising queries or None),
            ``num_denoising`` D and the transformer's outputs (their first D query rows are the
            denoising ones).
        """
        weight = self.projection_llava.layers[0].weight
        projection_obj = self.projection_llava(obj_querys.to(weight.dtype))
        class_features = projection_obj.mean(-2)
        class_valid = obj_query_masks.to(device=weight.device, dtype=torch.bool)
        kpt_valid = kpt_query_masks[:, :self.num_body_points].to(
            device=weight.device, dtype=torch.bool)
        kpt_embed = self.keypoint_embeds(kpt_querys.to(weight.dtype), kpt_query_masks)
        dn, pose_attn_mask = None, None
        if dn_targets is not None:
            dn, pose_attn_mask = self.denoising_queries(dn_targets, class_features, kpt_valid)
        sources, masks, positions = self.image_levels(pixel_values, pixel_valid.bool())
        out = self.transformer(sources, masks, positions, class_features, class_valid, kpt_embed,
                               kpt_valid, topk_index, group_index, dn, pose_attn_mask)
        num_dn = 0 if dn is None else dn['dn_queries'].shape[1]
        hidden = [h[:, num_dn:] for h in out['hidden']] if num_dn else out['hidden']
        refs = [r[:, num_dn:] for r in out['references']] if num_dn else out['references']
        group_len = self.num_body_points + 1
        kpt_index = self.transformer.decoder.keypoint_index(weight.device)
        state = hidden[-1][:, 0::group_len]
        out['pred_logits'] = contrastive_logits(state, out['memory_text'], class_valid).float()
        out['pred_boxes'] = (self.bbox_embed[-1](state) +
                             inverse_sigmoid(refs[-2][:, 0::group_len], EPS)).sigmoid().float()
        kpt_xy = self.pose_embed[len(hidden) - 1 - self.num_box_decoder_layers](
            hidden[-1][:, kpt_index]) + inverse_sigmoid(refs[-2][:, kpt_index][..., :2], EPS)
        batch = state.shape[0]
        kpt_xy = kpt_xy.sigmoid().view(batch, self.num_groups, self.num_body_points * 2)
        visibility = kpt_xy.new_full((batch, self.num_groups, self.num_body_points), 1.0).sigmoid()
        out['pred_keypoints'] = torch.cat((kpt_xy, visibility), -1).float()
        out['projection_obj'] = projection_obj
        out['class_valid'] = class_valid
        out['dn'] = dn
        out['num_denoising'] = num_dn
        return out

    def denoising_queries(self, targets: List[dict], class_features: Tensor,
                          kpt_valid: Tensor) -> Tuple[Optional[dict], Tensor]:
        """The contrastive denoising queries of a training batch and the pose-layer mask.

        Args:
            targets (list[dict]): per sample ``labels`` [n_i] and normalised cxcywh ``boxes``.
            class_features (Tensor): [B, T, d] projected object link states.
            kpt_valid (Tensor): [B, K] bool, used keypoint slots.

        Returns:
            tuple: the denoising queries (see ``OfficialUniPoseCdnGenerator``; None without
            ground truth in the batch) and the [B * heads, D + G (K + 1), D + G (K + 1)]
            self-attention mask of the pose layers (without ground truth: the pose-group mask
            of the denoising training, ``K + 1``-wide blocks, D = 0).
        """
        dn = self.dn_generator([t['labels'] for t in targets], [t['boxes'] for t in targets],
                               class_features)
        group_valid = torch.cat((kpt_valid.new_ones(kpt_valid.shape[0], 1), kpt_valid), 1)
        heads = self.config.decoder_attention_heads
        if dn is None:
            mask = pose_group_attention_mask(group_valid, self.num_groups, heads,
                                             self.num_body_points + 1)
        else:
            mask = dn_pose_attention_mask(dn['dn_attn_mask'], dn['dn_queries'].shape[1],
                                          group_valid, self.num_groups, heads)
        return dn, mask

    # ----------------------------------------------------------------------------- plumbing
    def split_targets(self, link_embeds: Tensor, link_mask: Tensor,
                      data_samples: List[MMDataSample]) -> Tuple[Tensor, ...]:
        """Object / keypoint link slots of each sample (``[DET]`` / ``[POSE]`` targets).

        Returns:
            tuple: obj_querys [B, max_object_slots, N, C], obj masks, kpt_querys
            [B, max_keypoint_slots, N, C], kpt masks.
        """
        batch, _, num, width = link_embeds.shape
        obj = link_embeds.new_zeros(batch, self.max_object_slots, num, width)
        kpt = link_embeds.new_zeros(batch, self.max_keypoint_slots, num, width)
        obj_mask = torch.zeros(
            batch, self.max_object_slots, dtype=torch.bool, device=link_embeds.device)
        kpt_mask = obj_mask.new_zeros(batch, self.max_keypoint_slots)
        for i, sample in enumerate(data_samples):
            used = [t for t in range(link_embeds.shape[1]) if bool(link_mask[i, t])]
            tokens = sample.metainfo.get('link_tokens')
            if tokens and len(tokens) == len(used) and '[DET]' in tokens:
                is_obj = [token == '[DET]' for token in tokens]
            else:
                is_obj = [j < self.num_object_targets for j in range(len(used))]
            objs = [t for t, flag in zip(used, is_obj) if flag]
            kpts = [t for t, flag in zip(used, is_obj) if not flag]
            if len(objs) > self.max_object_slots or len(kpts) > min(self.max_keypoint_slots,
                                                                    self.num_body_points):
                raise ValueError(f'{len(objs)} object / {len(kpts)} keypoint targets exceed the '
                                 'slots of OfficialUniPoseDecoder')
            obj[i, :len(objs)] = link_embeds[i, objs]
            obj_mask[i, :len(objs)] = True
            kpt[i, :len(kpts)] = link_embeds[i, kpts]
            kpt_mask[i, :len(kpts)] = True
        return obj, obj_mask, kpt, kpt_mask

    def emitted_targets_error(self, routing_tokens: Sequence[str]) -> Optional[str]:
        """At least one object target followed by at least one keypoint target."""
        if len(routing_tokens) <= self.num_object_targets:
            return (f'{type(self).__name__} needs {self.num_object_targets} object target(s) '
                    f'followed by keypoint targets; the answer emitted {len(routing_tokens)}')
        return None

    def _preprocess(self, images: Optional[List[Tensor]],
                    training: bool) -> Tuple[Tensor, Tensor, List[Tuple[int, int]]]:
        """Normalise / pad the decoder views; the valid-pixel mask and each view's size."""
        return padded_views(self.image_preprocessor, images, training, type(self).__name__)

    # ----------------------------------------------------------------------------- predict
    def predict(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
                data_samples: List[MMDataSample]) -> List[MMDataSample]:
        """Fill ``pred_instances`` (mmpose bottom-up format, original-image pixels).

        Args:
            link_embeds (Tensor): [B, T, N, C]; link_mask (Tensor): [B, T] bool.
            images (list[Tensor]): B uint8 [3, H, W] decoder views.
            data_samples (list[MMDataSample]): metainfo ``scale_factor`` (w, h) of the view and
                ``ori_shape`` (h, w) are used when present.
        """
        pixel_values, valid, sizes = self._preprocess(images, training=False)
        obj, obj_mask, kpt, kpt_mask = self.split_targets(link_embeds, link_mask, data_samples)
        out = self.forward_official(pixel_values, valid, obj, obj_mask, kpt, kpt_mask)
        for i, sample in enumerate(data_samples):
            sample.pred_instances = self._instances(out['pred_logits'][i],
                                                    out['pred_boxes'][i], out['pred_keypoints'][i],
                                                    int(obj_mask[i].sum()), int(kpt_mask[i].sum()),
                                                    sizes[i], sample.metainfo)
        return data_samples

    def _instances(self, logits: Tensor, boxes: Tensor, keypoints: Tensor, num_classes: int,
                   num_kpts: int, view_hw: Tuple[int, int], meta: dict) -> InstanceData:
        """Top-scoring (group, class) pairs of one image -> numpy ``InstanceData``.

        Args:
            logits (Tensor): [G, T]; boxes (Tensor): [G, 4] normalised cxcywh;
            keypoints (Tensor): [G, 3K] (xy pairs then visibilities).
        """
        prob = logits[:, :num_classes].sigmoid().reshape(-1)
        scores, index = torch.topk(prob, min(self.test_topk, prob.numel()))
        group = torch.div(index, max(num_classes, 1), rounding_mode='floor')
        labels = index % max(num_classes, 1)
        view_h, view_w = view_hw
        scale_factor = meta.get('scale_factor', (1.0, 1.0))
        ratio = boxes.new_tensor([view_w / scale_factor[0], view_h / scale_factor[1]])
        out_boxes = bbox_cxcywh_to_xyxy(boxes[group]) * ratio.repeat(2)
        points = self.num_body_points
        xy = keypoints[group, :2 * points].reshape(-1, points, 2)[:, :num_kpts] * ratio
        vis = keypoints[group, 2 * points:][:, :num_kpts]
        if 'ori_shape' in meta:
            ori_h, ori_w = meta['ori_shape'][:2]
            out_boxes[:, 0::2] = out_boxes[:, 0::2].clamp(0, ori_w)
            out_boxes[:, 1::2] = out_boxes[:, 1::2].clamp(0, ori_h)

        def np_(x: Tensor) -> np.ndarray:
            return x.detach().float().cpu().numpy()

        return InstanceData(
            bboxes=np_(out_boxes),
            scores=np_(scores),
            bbox_scores=np_(scores),
            labels=np_(labels).astype(np.int64),
            keypoints=np_(xy),
            keypoint_scores=np_(vis),
            keypoints_visible=np_(vis))

    # ----------------------------------------------------------------------------- loss
    def layer_outputs(self, out: Dict[str,
                                      object]) -> List[Tuple[Tensor, Tensor, Optional[Tensor]]]:
        """Per decoder layer (logits [B, Q, T], boxes [B, Q, 4], keypoints [B, G, K, 2] or None),
        as the official auxiliary outputs: box layers over all queries, pose layers per group."""
        num_dn = out.get('num_denoising', 0)
        hidden, refs = out['hidden'], out['references']
        valid = out['class_valid']
        group_len = self.num_body_points + 1
        kpt_index = self.transformer.decoder.keypoint_index(hidden[0].device)
        results = []
        for level, state in enumerate(hidden):
            ref = refs[level]
            if num_dn:
                state, ref = state[:, num_dn:], ref[:, num_dn:]
            if level < self.num_box_decoder_layers:
                box_state, box_ref, kpts = state, ref, None
            else:
                box_state, box_ref = state[:, 0::group_len], ref[:, 0::group_len]
                kpts = (self.pose_embed[level - self.num_box_decoder_layers](state[:, kpt_index]) +
                        inverse_sigmoid(ref[:, kpt_index][..., :2], EPS)).sigmoid()
                kpts = kpts.view(state.shape[0], self.num_groups, self.num_body_points, 2)
            logits = contrastive_logits(box_state, out['memory_text'], valid)
            boxes = (self.bbox_embed[level](box_state) + inverse_sigmoid(box_ref, EPS)).sigmoid()
            results.append((logits, boxes, kpts))
        return results

    def dn_layer_outputs(self, out: Dict[str, object]) -> List[Tuple[Tensor, Tensor]]:
        """Per decoder layer (logits [B, D, T], boxes [B, D, 4]) of the D denoising queries,
        from the layer's box head on its input reference boxes (empty list when D = 0)."""
        num_dn = out.get('num_denoising', 0)
        if not num_dn:
            return []
        results = []
        for level, state in enumerate(out['hidden']):
            state, ref = state[:, :num_dn], out['references'][level][:, :num_dn]
            logits = contrastive_logits(state, out['memory_text'], out['class_valid'])
            boxes = (self.bbox_embed[level](state) + inverse_sigmoid(ref, EPS)).sigmoid()
            results.append((logits, boxes))
        return results

    def _targets(self, data_samples: List[MMDataSample], sizes: List[Tuple[int, int]],
                 kpt_mask: Tensor, device: torch.device) -> List[dict]:
        """Normalised ground truth of each image (boxes cxcywh, keypoints, visibility, area)."""
        targets = []
        for i, (sample, (h, w)) in enumerate(zip(data_samples, sizes)):
            gt = sample.gt_instances
            boxes = torch.as_tensor(gt.bboxes, dtype=torch.float32, device=device).reshape(-1, 4)
            num, num_kpts = boxes.shape[0], int(kpt_mask[i].sum())
            per = -1 if num else num_kpts  # an image without instances: [0, K, ...]
            scale = boxes.new_tensor([w, h, w, h])
            cxcywh = torch.cat([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]],
                               -1) / scale
            kpts = torch.as_tensor(
                gt.get('keypoints', torch.zeros(num, num_kpts, 2)),
                dtype=torch.float32,
                device=device).reshape(num, per, 2)
            vis = torch.as_tensor(
                gt.get('keypoints_visible', torch.ones(num, num_kpts)),
                dtype=torch.float32,
                device=device).reshape(num, per)
            if kpts.shape[1] != num_kpts:
                raise ValueError(f'{kpts.shape[1]} ground-truth keypoints but {num_kpts} '
                                 'keypoint targets')
            if 'areas' in gt:
                area = torch.as_tensor(gt.areas, dtype=torch.float32, device=device)
            else:
                area = (boxes[:, 2:] - boxes[:, :2]).prod(-1)
            targets.append(
                dict(
                    labels=torch.as_tensor(gt.labels, dtype=torch.long, device=device),
                    boxes=cxcywh,
                    keypoints=kpts / boxes.new_tensor([w, h]),
                    visible=(vis > 0).float(),
                    area=area / (h * w)))
        return targets

    def loss(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
             data_samples: List[MMDataSample]) -> Dict[str, Tensor]:
        """The official matching losses of every decoder layer and of the two-stage proposals.

        ``gt_instances``: ``bboxes`` xyxy in the decoder view, ``labels`` = object target
        indices, ``keypoints`` [G, K, 2] (view pixels, in keypoint-target order),
        ``keypoints_visible`` [G, K], optional ``areas`` (pixels). Keys: ``loss_ce``,
        ``loss_bbox``, ``loss_giou``, ``loss_keypoints``, ``loss_oks`` of the last layer,
        ``_{i}``-suffixed ones of the earlier layers (no keypoint terms for the box layers) and
        ``_interm`` ones of the proposals; weights and costs of :data:`OFFICIAL_POSE_LOSS`.

        In training with ``dn_number > 0``, the denoising queries add ``loss_ce_dn``,
        ``loss_bbox_dn``, ``loss_giou_dn`` (last layer) and ``loss_{ce,bbox,giou}_dn_{i}``
        (earlier layers), as the official criterion: the class loss over every denoising query
        (the positive copies labelled with their true class, whatever their noised label), the
        box terms on the positive copies, all divided by instances x denoising groups, weighted
        as the matching ones. Without ground truth in the batch they are zeros.
        """
        pixel_values, valid, sizes = self._preprocess(images, training=True)
        obj, obj_mask, kpt, kpt_mask = self.split_targets(link_embeds, link_mask, data_samples)
        targets = self._targets(data_samples, sizes, kpt_mask, pixel_values.device)
        use_dn = self.training and self.dn_number > 0
        out = self.forward_official(
            pixel_values,
            valid,
            obj,
            obj_mask,
            kpt,
            kpt_mask,
            dn_targets=targets if use_dn else None)
        num_instances = float(max(sum(len(t['labels']) for t in targets), 1))
        class_valid = out['class_valid']
        num_kpts = int(kpt_mask.sum(1).max())
        sigmas = pixel_values.new_tensor(self.keypoint_sigmas[:num_kpts])
        cfg = self.loss_cfg
        layers = self.layer_outputs(out)
        losses: Dict[str, Tensor] = {}
        for level, (logits, boxes, kpts) in enumerate(layers):
            suffix = '' if level == len(layers) - 1 else f'_{level}'
            kpts = None if kpts is None else kpts[:, :, :num_kpts]
            for key, value in pose_set_losses(logits, boxes, kpts, class_valid, targets, cfg,
                                              sigmas, num_instances).items():
                losses[key + suffix] = value
        interm_logits = contrastive_logits(out['hs_enc'], out['memory_text'], class_valid)
        for key, value in pose_set_losses(interm_logits, out['ref_enc'], None, class_valid, targets,
                                          cfg, sigmas, num_instances).items():
            losses[key + '_interm'] = value
        if use_dn:
            losses.update(self._dn_losses(out, targets, num_instances, sigmas))
        return losses

    def _dn_losses(self, out: Dict[str, object], targets: List[dict], num_instances: float,
                   sigmas: Tensor) -> Dict[str, Tensor]:
        """``_dn`` / ``_dn_{i}`` class and box losses of the denoising queries (see ``loss``)."""
        dn = out['dn']
        num_layers = len(out['hidden'])
        names = ('loss_ce', 'loss_bbox', 'loss_giou')
        losses: Dict[str, Tensor] = {}
        if dn is None:  # no ground truth in the batch: the keys of the other batches, zero
            zero = out['pred_boxes'].sum() * 0
            for level in range(num_layers):
                suffix = '_dn' if level == num_layers - 1 else f'_dn_{level}'
                losses.update({name + suffix: zero for name in names})
            return losses
        indices = dn_positive_indices(dn['counts'], dn['num_groups'], dn['group_size'],
                                      out['pred_boxes'].device)
        norm = num_instances * dn['num_groups']
        for level, (logits, boxes) in enumerate(self.dn_layer_outputs(out)):
            suffix = '_dn' if level == num_layers - 1 else f'_dn_{level}'
            for key, value in assigned_set_losses(logits, boxes, None, out['class_valid'], targets,
                                                  indices, self.loss_cfg, sigmas, norm).items():
                losses[key + suffix] = value
        return losses
