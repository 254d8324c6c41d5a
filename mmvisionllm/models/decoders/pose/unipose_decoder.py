"""UniPose-style keypoint decoder plugin of the super link (routing token ``[POSE]``).

Data flow (B samples, T = T_o + K targets each, N link queries per target, width C → d):

    images (uint8 [3, H, W] each) ─ DetDataPreprocessor ─ PoseImageEncoder ─ memory [B, S, d]
    link_embeds [B, T, N, C] ─ LinkPromptEncoder ─ object prompts [B, T_o, d],
                                                 keypoint prompts [B, K, d]
    PromptQuerySelector (top-Q tokens by contrast with the object prompts)
      └─ UniPoseTransformerDecoder (object layers → M groups of 1 + K queries → pose layers)
           └─ per group: class logits [T_o], box, K keypoints, K visibility logits

Reused: mmdet's ``DetDataPreprocessor`` normalises/pads the decoder's image view (the contract says
the decoder does it itself); the sub-modules document their own reuse. Predictions follow mmpose's
bottom-up convention so mmpose's ``CocoMetric`` reads them unchanged: numpy ``keypoints`` [n, K, 2],
``keypoint_scores`` [n, K], ``keypoints_visible`` [n, K], ``bboxes`` [n, 4] xyxy, ``bbox_scores`` /
``scores`` [n] and ``labels`` [n] (index into the sample's object targets), all in original-image
pixels (the decoder view is rescaled by ``scale_factor``).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy, get_box_tensor
from mmengine.structures import InstanceData
from torch import Tensor

from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample
from ..base_link_decoder import BaseLinkDecoder

__all__ = ['UniPoseDecoder']


def default_pose_criterion() -> dict:
    """The paper's matcher/loss weights (cls 2, L1 5, GIoU 2, keypoint 10) + ED-Pose's OKS 4."""
    box_costs = [
        dict(type='mmdet.FocalLossCost', weight=2.0),
        dict(type='mmdet.BBoxL1Cost', weight=5.0, box_format='xywh'),
        dict(type='mmdet.IoUCost', iou_mode='giou', weight=2.0),
    ]
    kpt_costs = [
        dict(type='mmvisionllm.KeypointL1Cost', weight=10.0),
        dict(type='mmvisionllm.KeypointOKSCost', weight=4.0),
    ]
    return dict(
        type='UniPoseCriterion',
        assigner=dict(type='mmdet.HungarianAssigner', match_costs=box_costs + kpt_costs),
        box_assigner=dict(type='mmdet.HungarianAssigner', match_costs=box_costs),
        loss_cls=dict(
            type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=2.0),
        loss_bbox=dict(type='mmdet.L1Loss', loss_weight=5.0),
        loss_iou=dict(type='mmdet.GIoULoss', loss_weight=2.0),
        loss_kpt=dict(type='mmdet.L1Loss', loss_weight=10.0),
        loss_oks=dict(
            type='mmpose.OKSLoss', reduction='none', norm_target_weight=True, loss_weight=4.0),
        loss_vis=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=2.0))


@MODELS.register_module()
class UniPoseDecoder(BaseLinkDecoder):
    """Multi-person keypoint decoder conditioned on link embeddings (UniPose in VisionLLM v2).

    The first ``num_object_targets`` targets of a sample are object classes (``'person'``), the
    remaining K its keypoints in metainfo order (architecture.md, pose conversation), so K follows
    the prompts and one decoder serves keypoint sets of any size.

    Args:
        routing_tokens (Sequence[str]): Defaults to ``('[POSE]',)``.
        num_queries (int): N link embeddings per target. Defaults to 4 (the paper's pose table).
        in_channels (int): Link embedding width C (LLM hidden size). Defaults to 4096.
        embed_dims (int): Decoder width d. Defaults to 256.
        num_object_targets (int): Leading object-class targets per sample. Defaults to 1.
        num_object_queries (int): Q object queries. Defaults to 900.
        num_pose_groups (int): M top object queries expanded into keypoint groups. Defaults to 100.
        data_preprocessor (dict): mmdet ``DetDataPreprocessor`` config for the image view.
        image_encoder (dict): :class:`PoseImageEncoder` config (``embed_dims`` filled in).
        decoder (dict): :class:`UniPoseTransformerDecoder` config (``embed_dims``,
            ``num_pose_groups``, ``max_object_targets`` filled in).
        criterion (dict, optional): :class:`UniPoseCriterion` config; defaults to the paper weights.
        keypoint_sigmas (Sequence[float], optional): σ of each keypoint for the OKS cost/loss (the
            dataset's ``sigmas``). None → ``default_sigma`` for every keypoint.
        default_sigma (float): σ used when ``keypoint_sigmas`` is None. Defaults to 0.1.
        test_cfg (dict, optional): ``max_per_img`` (default 100).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 routing_tokens: Sequence[str] = ('[POSE]', ),
                 num_queries: int = 4,
                 in_channels: int = 4096,
                 embed_dims: int = 256,
                 num_object_targets: int = 1,
                 num_object_queries: int = 900,
                 num_pose_groups: int = 100,
                 data_preprocessor: Optional[dict] = None,
                 image_encoder: Optional[dict] = None,
                 decoder: Optional[dict] = None,
                 criterion: Optional[dict] = None,
                 keypoint_sigmas: Optional[Sequence[float]] = None,
                 default_sigma: float = 0.1,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(routing_tokens, num_queries, in_channels, init_cfg=init_cfg)
        if image_encoder is None or decoder is None:
            raise ValueError('UniPoseDecoder needs `image_encoder` and `decoder` configs')
        self.embed_dims = embed_dims
        self.data_preprocessor = MODELS.build(
            data_preprocessor or dict(
                type='mmdet.DetDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                bgr_to_rgb=False,
                pad_size_divisor=32))
        self.image_encoder = MODELS.build(
            dict(type='PoseImageEncoder', embed_dims=embed_dims, **image_encoder))
        self.prompt_encoder = MODELS.build(
            dict(
                type='LinkPromptEncoder',
                in_channels=in_channels,
                embed_dims=embed_dims,
                num_object_targets=num_object_targets))
        self.query_selector = MODELS.build(
            dict(
                type='PromptQuerySelector',
                embed_dims=embed_dims,
                num_queries=num_object_queries,
                max_object_targets=num_object_targets))
        self.decoder = MODELS.build(
            dict(
                type='UniPoseTransformerDecoder',
                embed_dims=embed_dims,
                num_pose_groups=num_pose_groups,
                max_object_targets=num_object_targets,
                **decoder))
        self.criterion = MODELS.build(criterion or default_pose_criterion())
        self.keypoint_sigmas = None if keypoint_sigmas is None else list(keypoint_sigmas)
        self.default_sigma = default_sigma
        self.test_cfg = dict(dict(max_per_img=100), **(test_cfg or {}))

    # ------------------------------------------------------------------ forward
    def _sigmas(self, num_kpts: int, ref: Tensor) -> Tensor:
        """[K] keypoint σ on ``ref``'s device."""
        if self.keypoint_sigmas is None:
            return ref.new_full((num_kpts, ), self.default_sigma)
        if len(self.keypoint_sigmas) != num_kpts:
            raise ValueError(
                f'{len(self.keypoint_sigmas)} keypoint_sigmas for {num_kpts} keypoints')
        return ref.new_tensor(self.keypoint_sigmas)

    def forward_outputs(
        self, link_embeds: Tensor, link_mask: Tensor, images: List[Tensor], training: bool
    ) -> Tuple[List[Dict[str, Tensor]], Dict[str, Tensor], dict, List[Tuple[int, int]]]:
        """Run the image branch, the prompts and the decoder.

        Args:
            link_embeds (Tensor): [B, T, N, C]. link_mask (Tensor): [B, T] bool.
            images (list[Tensor]): B uint8 [3, H_i, W_i] decoder views.
            training (bool): passed to the data preprocessor.

        Returns:
            tuple: decoder stage outputs (see :class:`UniPoseTransformerDecoder`), the encoder
            proposal outputs (``cls`` [B, Q, T_o], ``boxes`` [B, Q, 4]), the prompts dict and the
            per-image (h, w) of the views.
        """
        if images is None or len(images) != link_embeds.size(0):
            raise ValueError('the pose decoder needs one image view per sample')
        device = link_embeds.device
        self.data_preprocessor.to(device)
        batch = self.data_preprocessor(
            dict(inputs=[img.to(device) for img in images], data_samples=None), training)
        img_shapes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        feats = self.image_encoder(batch['inputs'], img_shapes)
        weight = self.prompt_encoder.proj.layers[0].weight
        prompts = self.prompt_encoder(link_embeds.to(weight.dtype), link_mask.bool())
        sel = self.query_selector(feats['memory'], feats['memory_mask'], feats['spatial_shapes'],
                                  prompts['obj_embeds'], prompts['obj_mask'])
        outputs = self.decoder(sel['query'], sel['ref_boxes'], feats, prompts['obj_embeds'],
                               prompts['obj_mask'], prompts['kpt_embeds'])
        return outputs, dict(cls=sel['enc_cls'], boxes=sel['enc_boxes']), prompts, img_shapes

    # ------------------------------------------------------------------ training
    @staticmethod
    def _ground_truth(sample: MMDataSample, num_kpts: int, device: torch.device) -> InstanceData:
        """Tensors of one sample's ``gt_instances`` (decoder-view pixels) for the criterion.

        Returns:
            InstanceData: ``bboxes`` [G, 4] xyxy, ``labels`` [G], ``keypoints`` [G, K, 2],
            ``keypoints_visible`` [G, K] in {0, 1}, ``areas`` [G] (box area, pixels²).
        """
        gt = sample.gt_instances
        boxes = torch.as_tensor(get_box_tensor(gt.bboxes), dtype=torch.float32, device=device)
        boxes = boxes.reshape(-1, 4)
        num_gt = boxes.size(0)
        labels = gt.labels if 'labels' in gt else torch.zeros(num_gt)
        kpts = torch.as_tensor(
            gt.get('keypoints', torch.zeros(num_gt, num_kpts, 2)),
            dtype=torch.float32,
            device=device)
        vis = torch.as_tensor(
            gt.get('keypoints_visible', torch.ones(num_gt, num_kpts)),
            dtype=torch.float32,
            device=device)
        if num_gt and kpts.shape[-2] != num_kpts:
            raise ValueError(f'{kpts.shape[-2]} ground-truth keypoints but {num_kpts} keypoint '
                             'targets')
        wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0)
        return InstanceData(
            bboxes=boxes,
            labels=torch.as_tensor(labels, dtype=torch.long, device=device).reshape(-1),
            keypoints=kpts.reshape(num_gt, num_kpts, 2),
            keypoints_visible=(vis.reshape(num_gt, num_kpts) > 0).float(),
            areas=(wh[:, 0] * wh[:, 1]).clamp(min=1.))

    def loss(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
             data_samples: List[MMDataSample]) -> Dict[str, Tensor]:
        """Losses of a batch of pose samples.

        Args:
            link_embeds (Tensor): [B, T, N, C]; link_mask (Tensor): [B, T] bool.
            images (list[Tensor]): B uint8 [3, H, W] decoder views.
            data_samples (list[MMDataSample]): with ``gt_instances`` (``bboxes``, ``labels``,
                ``keypoints`` [G, K, 2], ``keypoints_visible`` [G, K]) in view pixels.

        Returns:
            dict[str, Tensor]: see :class:`UniPoseCriterion`.
        """
        outputs, enc_out, prompts, img_shapes = self.forward_outputs(
            link_embeds, link_mask, images, training=True)
        num_kpts = prompts['kpt_embeds'].size(1)
        batch_gt = [self._ground_truth(s, num_kpts, link_embeds.device) for s in data_samples]
        sigmas = self._sigmas(num_kpts, outputs[-1]['boxes'])
        return self.criterion(outputs, enc_out, prompts['obj_mask'], batch_gt, img_shapes, sigmas)

    # ------------------------------------------------------------------ inference
    def emitted_targets_error(self, routing_tokens: Sequence[str]) -> Optional[str]:
        """The object target(s) must be followed by at least one keypoint target."""
        num_objects = self.prompt_encoder.num_object_targets
        if len(routing_tokens) <= num_objects:
            return (f'{type(self).__name__} needs {num_objects} object target(s) followed by '
                    f'keypoint targets; the answer emitted {len(routing_tokens)} target(s)')
        return None

    def predict(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
                data_samples: List[MMDataSample]) -> List[MMDataSample]:
        """Fill ``pred_instances`` (mmpose bottom-up format, original-image pixels).

        Args:
            link_embeds (Tensor): [B, T, N, C]; link_mask (Tensor): [B, T] bool.
            images (list[Tensor]): B uint8 [3, H, W] decoder views.
            data_samples (list[MMDataSample]): metainfo ``scale_factor`` (w, h) of the view w.r.t.
                the original image and ``ori_shape`` (h, w) are used when present.

        Returns:
            list[MMDataSample]: the same samples with ``pred_instances``.
        """
        outputs, _, prompts, img_shapes = self.forward_outputs(
            link_embeds, link_mask, images, training=False)
        final = outputs[-1]
        for b, sample in enumerate(data_samples):
            sample.pred_instances = self._instances(final['cls'][b], final['boxes'][b],
                                                    final['kpts'][b], final['kpt_logits'][b],
                                                    prompts['obj_mask'][b], img_shapes[b],
                                                    sample.metainfo)
        return data_samples

    def _instances(self, cls: Tensor, boxes: Tensor, kpts: Tensor, kpt_logits: Tensor,
                   obj_mask: Tensor, img_hw: Tuple[int, int], meta: dict) -> InstanceData:
        """Top-scoring groups of one image → numpy ``InstanceData`` in original pixels.

        Args:
            cls (Tensor): [M, T_o] logits; boxes (Tensor): [M, 4] normalised (cx, cy, w, h);
            kpts (Tensor): [M, K, 2] normalised; kpt_logits (Tensor): [M, K]; obj_mask: [T_o].
        """
        num_classes = cls.size(-1)
        scores = cls.sigmoid().masked_fill(~obj_mask[None], 0.).flatten()
        num = min(int(self.test_cfg['max_per_img']), scores.numel())
        scores, index = scores.topk(num)
        group, labels = index // num_classes, index % num_classes
        img_h, img_w = img_hw
        scale_factor = meta.get('scale_factor', (1., 1.))
        ratio = boxes.new_tensor([img_w / scale_factor[0], img_h / scale_factor[1]])
        out_boxes = bbox_cxcywh_to_xyxy(boxes[group]) * ratio.repeat(2)
        out_kpts = kpts[group] * ratio
        if 'ori_shape' in meta:
            ori_h, ori_w = meta['ori_shape'][:2]
            out_boxes[:, 0::2] = out_boxes[:, 0::2].clamp(0, ori_w)
            out_boxes[:, 1::2] = out_boxes[:, 1::2].clamp(0, ori_h)
        kpt_scores = kpt_logits[group].sigmoid()

        def np_(x: Tensor) -> np.ndarray:
            return x.detach().float().cpu().numpy()

        return InstanceData(
            bboxes=np_(out_boxes),
            scores=np_(scores),
            bbox_scores=np_(scores),
            labels=np_(labels).astype(np.int64),
            keypoints=np_(out_kpts),
            keypoint_scores=np_(kpt_scores),
            keypoints_visible=np_(kpt_scores))

    def extra_repr(self) -> str:
        """Routing tokens and widths, for ``print(model)``."""
        return (f'routing_tokens={self.routing_tokens}, num_queries={self.num_queries}, '
                f'in_channels={self.in_channels}, embed_dims={self.embed_dims}')
