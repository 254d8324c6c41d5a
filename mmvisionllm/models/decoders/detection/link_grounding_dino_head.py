"""Grounding DINO head whose "text tokens" are the targets of the super link (one token per target).

Reused: mmdet's ``GroundingDINOHead`` as is — ``ContrastiveEmbed`` class logits (query · target
feature), the box branches, positive-map targets, ``BinaryFocalLossCost`` matching, focal/L1/GIoU
losses, denoising and encoder losses. Changed: ``loss``/``predict`` also drive the mask branch
(:class:`~.mask_head_mixin.MaskHeadMixin`); prediction reads the class scores of the valid targets
directly (each target is one token, so mmdet's positive-map averaging is the identity) and returns
target indices as labels.
"""
from typing import Dict, List, Optional, Sequence

from mmdet.models.dense_heads import GroundingDINOHead
from mmengine.structures import InstanceData
from torch import Tensor

from mmvisionllm.registry import MODELS
from .mask_head_mixin import MaskHeadMixin

__all__ = ['LinkGroundingDINOHead']


@MODELS.register_module()
class LinkGroundingDINOHead(MaskHeadMixin, GroundingDINOHead):
    """``GroundingDINOHead`` over link-embedding targets, with an optional mask branch.

    Args:
        mask_head (dict, optional): config of :class:`~.mask_head.DETRMaskHead`; needs
            ``train_cfg.assigner`` of type ``mmvisionllm.MaskAwareHungarianAssigner``.
        **kwargs: mmdet ``GroundingDINOHead`` arguments (``num_classes`` = the most targets per
            sample, used by the denoising label table; ``contrastive_cfg.max_text_len`` ≥ it).
    """

    def __init__(self, *args, mask_head: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_mask_branch(mask_head)

    def loss(self,
             hidden_states: Tensor,
             references: List[Tensor],
             memory_text: Tensor,
             text_token_mask: Tensor,
             enc_outputs_class: Tensor,
             enc_outputs_coord: Tensor,
             batch_data_samples: list,
             dn_meta: Dict[str, int],
             mask_inputs: Optional[dict] = None) -> Dict[str, Tensor]:
        """Losses of a batch.

        Args:
            hidden_states (Tensor): [L, B, Q_dn + Q, C] decoder outputs.
            references (list[Tensor]): L + 1 tensors [B, Q_dn + Q, 4] of reference boxes.
            memory_text (Tensor): [B, T, C] target features after the encoder's fusion layers.
            text_token_mask (Tensor): [B, T] bool, True for real targets.
            enc_outputs_class (Tensor): [B, Q, max_text_len] logits of the encoder proposals.
            enc_outputs_coord (Tensor): [B, Q, 4] boxes of the encoder proposals.
            batch_data_samples (list): samples with ``gt_instances`` (``bboxes``, ``labels``,
                ``positive_maps``, ``text_token_mask`` and optionally ``masks``).
            dn_meta (dict): denoising bookkeeping.
            mask_inputs (dict, optional): inputs of the mask branch's pixel decoder.

        Returns:
            dict[str, Tensor]: the losses.
        """
        outs = self(hidden_states, references, memory_text, text_token_mask)
        # mmdet's GroundingDINOHead.loss_by_feat_single reads the valid-token mask from
        # `self.text_masks` (its own `loss` sets it the same way): the classification loss is
        # masked to the real targets of each sample
        self.text_masks = text_token_mask
        return self.loss_with_mask_branch(outs, hidden_states, enc_outputs_class, enc_outputs_coord,
                                          batch_data_samples, dn_meta, mask_inputs)

    def predict(self,
                hidden_states: Tensor,
                references: List[Tensor],
                memory_text: Tensor,
                text_token_mask: Tensor,
                batch_data_samples: list,
                rescale: bool = True,
                mask_inputs: Optional[dict] = None,
                with_masks: Optional[Sequence[bool]] = None) -> List[InstanceData]:
        """Detections per image; labels index the sample's targets.

        Args:
            hidden_states (Tensor): [L, B, Q, C] decoder outputs.
            references (list[Tensor]): L + 1 tensors [B, Q, 4].
            memory_text (Tensor): [B, T, C] fused target features.
            text_token_mask (Tensor): [B, T] bool.
            batch_data_samples (list): samples with image meta information.
            rescale (bool): Boxes/masks in original image coordinates.
            mask_inputs (dict, optional): pixel decoder inputs (masks are predicted only with it).
            with_masks (list[bool], optional): per image, whether to predict masks (default all).

        Returns:
            list[InstanceData]: ``bboxes``, ``scores``, ``labels`` (target index), ``query_index``
            and, where asked, ``masks``.
        """
        all_cls, all_bbox = self(hidden_states, references, memory_text, text_token_mask)
        mask_features = self.mask_features(mask_inputs)
        results = []
        for i, sample in enumerate(batch_data_samples):
            targets = text_token_mask[i].nonzero(as_tuple=False).squeeze(-1)
            want_masks = mask_features is not None and (with_masks is None or with_masks[i])
            instances = self.predict_instances(
                all_cls[-1, i][:, targets].sigmoid(),
                all_bbox[-1, i],
                sample.metainfo,
                rescale,
                queries=hidden_states[-1, i],
                mask_features=mask_features[i] if want_masks else None)
            instances.labels = targets[instances.labels]
            results.append(instances)
        return results
