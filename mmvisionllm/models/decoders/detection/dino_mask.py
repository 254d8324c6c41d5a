"""mmdet's DINO detector with the mask branch: the segmentation specialist baseline.

Reused: mmdet's ``DINO`` (backbone, neck, deformable encoder/decoder, two-stage proposals,
``CdnQueryGenerator``, ``DetDataPreprocessor``) unchanged; :class:`~.mask_detector_mixin.
MaskDetectorMixin` routes the stride-4 backbone map and the encoder memory to
:class:`~.dino_mask_head.DINOMaskHead`. Without a mask branch in the head it is plain mmdet DINO.
"""
from typing import Dict

from mmdet.models.detectors import DINO
from torch import Tensor

from mmvisionllm.registry import MODELS
from .mask_detector_mixin import MaskDetectorMixin

__all__ = ['DINOMask']


@MODELS.register_module()
class DINOMask(MaskDetectorMixin, DINO):
    """mmdet ``DINO`` + instance masks (``bbox_head`` = ``DINOMaskHead`` with ``mask_head``).

    The backbone outputs the stride-4 level first (e.g. ``out_indices=(0, 1, 2, 3)``); the neck
    takes the others. Train with ``DetDataPreprocessor(pad_mask=True)`` and masks in the pipeline.
    """

    def loss(self, batch_inputs: Tensor, batch_data_samples: list) -> Dict[str, Tensor]:
        """Losses of a batch ([B, 3, H, W] inputs, samples with ``gt_instances``)."""
        img_feats, pixel_feat = self.extract_feat_with_pixel(batch_inputs)
        if not self.mask_branch_in_loss(batch_data_samples):
            pixel_feat = None
        head_inputs = self.forward_transformer_with_masks(img_feats, batch_data_samples, pixel_feat)
        return self.bbox_head.loss(**head_inputs, batch_data_samples=batch_data_samples)

    def predict(self, batch_inputs: Tensor, batch_data_samples: list, rescale: bool = True) -> list:
        """Samples with ``pred_instances`` (``bboxes``, ``scores``, ``labels``, ``masks``)."""
        img_feats, pixel_feat = self.extract_feat_with_pixel(batch_inputs)
        head_inputs = self.forward_transformer_with_masks(img_feats, batch_data_samples, pixel_feat)
        results = self.bbox_head.predict(
            **head_inputs, batch_data_samples=batch_data_samples, rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)
