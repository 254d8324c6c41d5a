"""mmdet's ``DINOHead`` with the same mask branch as the link decoder (segmentation specialist).

Reused: mmdet's ``DINOHead`` (class/box branches, denoising, encoder and matching losses, focal
scores) unchanged; the mask branch, mask-aware matching and query-indexed prediction come from
:class:`~.mask_head_mixin.MaskHeadMixin`, so the baseline and VisionLLM v2's decoder share one mask
implementation.
"""
from typing import Dict, List, Optional

from mmdet.models.dense_heads import DINOHead
from mmengine.structures import InstanceData
from torch import Tensor

from mmvisionllm.registry import MODELS
from .mask_head_mixin import MaskHeadMixin

__all__ = ['DINOMaskHead']


@MODELS.register_module()
class DINOMaskHead(MaskHeadMixin, DINOHead):
    """``DINOHead`` (fixed class set) with an optional :class:`~.mask_head.DETRMaskHead`.

    Args:
        mask_head (dict, optional): mask branch config; needs ``train_cfg.assigner`` of type
            ``mmvisionllm.MaskAwareHungarianAssigner``.
        **kwargs: mmdet ``DINOHead`` arguments.
    """

    def __init__(self, *args, mask_head: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_mask_branch(mask_head)

    def loss(self,
             hidden_states: Tensor,
             references: List[Tensor],
             enc_outputs_class: Tensor,
             enc_outputs_coord: Tensor,
             batch_data_samples: list,
             dn_meta: Dict[str, int],
             mask_inputs: Optional[dict] = None) -> Dict[str, Tensor]:
        """Losses of a batch.

        Args:
            hidden_states (Tensor): [L, B, Q_dn + Q, C] decoder outputs.
            references (list[Tensor]): L + 1 tensors [B, Q_dn + Q, 4].
            enc_outputs_class (Tensor): [B, Q, num_classes] encoder proposal logits.
            enc_outputs_coord (Tensor): [B, Q, 4] encoder proposal boxes.
            batch_data_samples (list): samples with ``gt_instances`` (``masks`` optional).
            dn_meta (dict): denoising bookkeeping.
            mask_inputs (dict, optional): pixel decoder inputs.

        Returns:
            dict[str, Tensor]: the losses.
        """
        return self.loss_with_mask_branch(
            self(hidden_states, references), hidden_states, enc_outputs_class, enc_outputs_coord,
            batch_data_samples, dn_meta, mask_inputs)

    def predict(self,
                hidden_states: Tensor,
                references: List[Tensor],
                batch_data_samples: list,
                rescale: bool = True,
                mask_inputs: Optional[dict] = None) -> List[InstanceData]:
        """Top-k detections (and masks) per image.

        Args:
            hidden_states (Tensor): [L, B, Q, C] decoder outputs.
            references (list[Tensor]): L + 1 tensors [B, Q, 4].
            batch_data_samples (list): samples with image meta information.
            rescale (bool): Boxes/masks in original image coordinates.
            mask_inputs (dict, optional): pixel decoder inputs (masks only with it).

        Returns:
            list[InstanceData]: ``bboxes``, ``scores``, ``labels`` and, with masks, ``masks``.
        """
        all_cls, all_bbox = self(hidden_states, references)
        mask_features = self.mask_features(mask_inputs)
        results = []
        for i, sample in enumerate(batch_data_samples):
            instances = self.predict_instances(
                all_cls[-1, i].sigmoid(),
                all_bbox[-1, i],
                sample.metainfo,
                rescale,
                queries=hidden_states[-1, i],
                mask_features=mask_features[i] if mask_features is not None else None)
            del instances.query_index
            results.append(instances)
        return results
