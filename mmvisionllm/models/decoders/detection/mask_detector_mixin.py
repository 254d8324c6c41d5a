"""Feeds the mask branch of a DINO-family detector: backbone stride-4 map + encoder memory.

Reused: mmdet's ``DeformableDETR.pre_transformer``, ``forward_encoder``, DINO's two-stage
``pre_decoder`` (top-k encoder proposals, denoising queries) and ``forward_decoder``, called in the
same order as mmdet's ``forward_transformer``. What is added: when the head has a mask branch, the
backbone's first output (stride 4) is kept out of the neck and handed, with the encoder memory and
its level shapes, to the head as ``mask_inputs`` (mmdet's ``forward_transformer`` drops the
memory).
"""
from typing import Optional, Tuple

from torch import Tensor

from mmvisionllm.utils.dist_compat import is_multi_process

__all__ = ['MaskDetectorMixin']


class MaskDetectorMixin:
    """Mixin for mmdet ``DINO`` subclasses; put it before the mmdet class in the bases.

    With a mask branch in ``bbox_head``, the backbone must output one more level than the neck
    takes: its first output (stride 4, e.g. ``out_indices=(0, 1, 2, 3)``) feeds the mask branch
    only.
    """

    @property
    def with_mask_branch(self) -> bool:
        """Whether the head predicts instance masks."""
        return bool(getattr(self.bbox_head, 'with_mask', False))

    def extract_feat_with_pixel(self,
                                batch_inputs: Tensor) -> Tuple[Tuple[Tensor], Optional[Tensor]]:
        """Multi-level neck features and the stride-4 backbone map.

        Args:
            batch_inputs (Tensor): [B, 3, H, W] normalised, padded images.

        Returns:
            tuple: the neck outputs (each [B, C, h_l, w_l]) and [B, C2, H/4, W/4] (None without a
            mask branch).
        """
        feats = self.backbone(batch_inputs)
        pixel_feat = None
        if self.with_mask_branch:
            pixel_feat, feats = feats[0], feats[1:]
        if self.with_neck:
            feats = self.neck(feats)
        return feats, pixel_feat

    @staticmethod
    def has_mask_targets(batch_data_samples: list) -> bool:
        """Whether any sample of a training batch carries instance masks."""
        return any('masks' in sample.gt_instances for sample in batch_data_samples)

    def mask_branch_in_loss(self, batch_data_samples: list) -> bool:
        """Whether the training loss runs the mask branch on this batch.

        In one process: only when a sample carries masks (batches of pure detection/grounding
        skip it; the numerics of single-process training are exactly those of before).
        With several ranks (``torch.distributed`` initialised, world size > 1): always, when the
        head has a mask branch. The mask loss then calls ``reduce_mean`` on every rank and is a
        zero-weighted (``sum() * 0``) term on a rank without ``[SEG]`` targets, so all ranks
        issue the same collectives in the same order whatever their batches hold; skipping it on
        one rank only desynchronises them (a collective mismatch over gloo, a hang over NCCL).
        """
        if not self.with_mask_branch:
            return False
        return is_multi_process() or self.has_mask_targets(batch_data_samples)

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor]:
        """Neck features only (mmdet's contract for ``extract_feat``)."""
        return self.extract_feat_with_pixel(batch_inputs)[0]

    def forward_transformer_with_masks(self,
                                       img_feats: Tuple[Tensor],
                                       batch_data_samples: list,
                                       pixel_feat: Optional[Tensor] = None,
                                       **encoder_kwargs) -> dict:
        """mmdet's encoder → two-stage proposals → decoder, plus ``mask_inputs`` for the head.

        Args:
            img_feats (tuple[Tensor]): neck outputs.
            batch_data_samples (list): samples with ``img_shape`` and ``batch_input_shape`` (and
                ``gt_instances`` in training, for the denoising queries).
            pixel_feat (Tensor, optional): [B, C2, H/4, W/4] stride-4 map; None: no masks.
            **encoder_kwargs: extra encoder inputs (``text_dict`` for Grounding DINO).

        Returns:
            dict: the head inputs (``hidden_states``, ``references``, ... as mmdet) and
            ``mask_inputs`` = dict(pixel_feat, memory, spatial_shapes) when ``pixel_feat`` is given.
        """
        encoder_inputs, decoder_inputs = self.pre_transformer(img_feats, batch_data_samples)
        encoder_outputs = self.forward_encoder(**encoder_inputs, **encoder_kwargs)
        extra_decoder_inputs, head_inputs = self.pre_decoder(
            **encoder_outputs, batch_data_samples=batch_data_samples)
        decoder_inputs.update(extra_decoder_inputs)
        head_inputs.update(self.forward_decoder(**decoder_inputs))
        if pixel_feat is not None:
            head_inputs['mask_inputs'] = dict(
                pixel_feat=pixel_feat,
                memory=encoder_outputs['memory'],
                spatial_shapes=encoder_outputs['spatial_shapes'])
        return head_inputs
