"""mmdet's Grounding DINO with its BERT branch removed: target features come from outside.

VisionLLM v2 keeps Grounding DINO whole except the text encoder: the link embeddings of the LLM,
projected to 256-d and averaged over the N queries of a target (done by the decoder plugin), are
used exactly where BERT's token features were — the encoder's image–text fusion and text
self-attention layers, the decoder's text cross-attention and the contrastive class logits.

Reused from mmdet 3.3 (subclassing ``GroundingDINO``): the backbone/neck,
``SinePositionalEncoding``, ``GroundingDinoTransformerEncoder`` (deformable image layers + text
layers + bi-attention fusion), ``GroundingDinoTransformerDecoder`` (text cross-attention +
deformable cross-attention), DINO's two-stage ``pre_decoder`` and ``CdnQueryGenerator`` denoising
queries, the weight initialisation, ``DetDataPreprocessor`` as ``data_preprocessor``. Removed:
``language_model`` and ``text_feat_map`` (the state-dict keys of everything else are unchanged, so
mmdet Grounding DINO checkpoints load with a ``detector.`` prefix, see :mod:`.gdino_checkpoint`).
Added: the mask-branch plumbing of :class:`~.mask_detector_mixin.MaskDetectorMixin`.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmdet.models.detectors import DINO, GroundingDINO
from mmdet.models.layers import SinePositionalEncoding
from mmdet.models.layers.transformer.grounding_dino_layers import (GroundingDinoTransformerDecoder,
                                                                   GroundingDinoTransformerEncoder)
from mmengine.config import ConfigDict
from torch import Tensor, nn

from mmvisionllm.registry import MODELS
from .mask_detector_mixin import MaskDetectorMixin

__all__ = ['LinkGroundingDINO']


@MODELS.register_module()
class LinkGroundingDINO(MaskDetectorMixin, GroundingDINO):
    """Grounding DINO fed with a ready ``text_dict`` instead of a caption.

    Takes mmdet ``GroundingDINO``'s arguments except ``language_model``. ``loss`` and ``predict``
    need ``text_dict`` = dict(embedded [B, T, 256], text_token_mask [B, T] bool, position_ids
    [B, T] long, masks [B, T, T] bool (True where token i may attend to token j)).
    """

    def __init__(self, **kwargs) -> None:
        # mmdet's encoder reads `text_layer_cfg.self_attn_cfg.num_heads` as an attribute, so the
        # config must be a ConfigDict even when the model is built from plain dicts
        if isinstance(kwargs.get('encoder'), dict):
            kwargs['encoder'] = ConfigDict(kwargs['encoder'])
        super().__init__(language_model=None, **kwargs)

    def _init_layers(self) -> None:
        """Build Grounding DINO's transformer parts without the language model."""
        self.positional_encoding = SinePositionalEncoding(**self.positional_encoding)
        self.encoder = GroundingDinoTransformerEncoder(**self.encoder)
        self.decoder = GroundingDinoTransformerDecoder(**self.decoder)
        self.embed_dims = self.encoder.embed_dims
        if self.positional_encoding.num_feats * 2 != self.embed_dims:
            raise ValueError('positional_encoding.num_feats must be embed_dims / 2')
        self.query_embedding = nn.Embedding(self.num_queries, self.embed_dims)
        # zeros, not mmdet's uninitialised torch.Tensor(...): a model used before init_weights()
        # (a random-weight inferencer) read whatever memory held, NaN boxes in some runs
        self.level_embed = nn.Parameter(torch.zeros(self.num_feature_levels, self.embed_dims))
        self.memory_trans_fc = nn.Linear(self.embed_dims, self.embed_dims)
        self.memory_trans_norm = nn.LayerNorm(self.embed_dims)

    def init_weights(self) -> None:
        """DINO's initialisation (Grounding DINO's only adds ``text_feat_map``, which is gone)."""
        DINO.init_weights(self)

    def forward_encoder(self, feat: Tensor, feat_mask: Tensor, feat_pos: Tensor,
                        spatial_shapes: Tensor, level_start_index: Tensor, valid_ratios: Tensor,
                        text_dict: Dict) -> Dict:
        """mmdet's Grounding DINO encoder call with the fusion layers' text mask fixed.

        mmdet's ``BiMultiHeadAttention`` builds its image→text attention bias as
        ``mask.masked_fill(mask == 0, -9e15)``, i.e. it expects a numeric mask with 1 = valid token.
        ``GroundingDINO.forward_encoder`` hands it the *bool* ``~text_token_mask``; a bool tensor
        cannot hold -9e15, so the bias is +1 everywhere and padded text is never masked (mmdet
        issue #11803; harmless for mmdet's usual equal-length captions). Link targets are padded
        whenever the samples of a batch have different numbers of targets, so the valid-token
        mask is passed here as floats: padded targets get -9e15 and neither influence the image
        features nor receive gradients.

        Args:
            feat (Tensor): [B, sum(h*w), C] flattened image features.
            feat_mask (Tensor): [B, sum(h*w)] bool, True at padding (or None).
            feat_pos (Tensor): [B, sum(h*w), C] positional + level embeddings.
            spatial_shapes (Tensor): [num_levels, 2].
            level_start_index (Tensor): [num_levels].
            valid_ratios (Tensor): [B, num_levels, 2].
            text_dict (dict): target features, see the class docstring.

        Returns:
            dict: ``memory``, ``memory_mask``, ``spatial_shapes``, ``memory_text`` [B, T, C] and
            ``text_token_mask`` [B, T], as mmdet's.
        """
        text_token_mask = text_dict['text_token_mask']
        memory, memory_text = self.encoder(
            query=feat,
            query_pos=feat_pos,
            key_padding_mask=feat_mask,
            spatial_shapes=spatial_shapes,
            level_start_index=level_start_index,
            valid_ratios=valid_ratios,
            memory_text=text_dict['embedded'],
            text_attention_mask=text_token_mask.to(feat.dtype),
            position_ids=text_dict['position_ids'],
            text_self_attention_masks=text_dict['masks'])
        return dict(
            memory=memory,
            memory_mask=feat_mask,
            spatial_shapes=spatial_shapes,
            memory_text=memory_text,
            text_token_mask=text_token_mask)

    def _check_text_dict(self, text_dict: Optional[dict]) -> dict:
        if text_dict is None:
            raise ValueError(f'{type(self).__name__} has no language model: pass text_dict (built '
                             'from link embeddings by LinkGroundingDINODecoder)')
        num_targets = text_dict['embedded'].shape[1]
        if num_targets > self.bbox_head.max_text_len:
            raise ValueError(f'{num_targets} targets exceed max_text_len='
                             f'{self.bbox_head.max_text_len} of the head')
        return text_dict

    def loss(self,
             batch_inputs: Tensor,
             batch_data_samples: list,
             text_dict: Optional[dict] = None) -> Dict[str, Tensor]:
        """Losses of a batch.

        Args:
            batch_inputs (Tensor): [B, 3, H, W] normalised, padded images.
            batch_data_samples (list[DetDataSample]): ``gt_instances.labels`` index the targets
                (tokens) of ``text_dict``; ``gt_instances.masks`` where masks are supervised.
            text_dict (dict): the target features, see the class docstring.

        Returns:
            dict[str, Tensor]: the losses.
        """
        text_dict = self._check_text_dict(text_dict)
        max_text_len = self.bbox_head.max_text_len
        for i, sample in enumerate(batch_data_samples):
            labels = sample.gt_instances.labels.long()
            sample.gt_instances.positive_maps = F.one_hot(labels, max_text_len).float()
            sample.gt_instances.text_token_mask = \
                text_dict['text_token_mask'][i].unsqueeze(0).repeat(len(labels), 1)
        img_feats, pixel_feat = self.extract_feat_with_pixel(batch_inputs)
        if not self.mask_branch_in_loss(batch_data_samples):
            pixel_feat = None
        head_inputs = self.forward_transformer_with_masks(
            img_feats, batch_data_samples, pixel_feat, text_dict=text_dict)
        return self.bbox_head.loss(**head_inputs, batch_data_samples=batch_data_samples)

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: list,
                rescale: bool = True,
                text_dict: Optional[dict] = None,
                with_masks: Optional[Sequence[bool]] = None) -> List:
        """Fill ``pred_instances`` (labels = target indices) of the samples.

        Args:
            batch_inputs (Tensor): [B, 3, H, W] normalised, padded images.
            batch_data_samples (list[DetDataSample]): samples with image meta information.
            rescale (bool): Boxes/masks in original image coordinates.
            text_dict (dict): the target features, see the class docstring.
            with_masks (list[bool], optional): per sample, whether to predict masks (default: all
                samples when the head has a mask branch).

        Returns:
            list[DetDataSample]: the samples with ``pred_instances``.
        """
        text_dict = self._check_text_dict(text_dict)
        img_feats, pixel_feat = self.extract_feat_with_pixel(batch_inputs)
        if with_masks is not None and not any(with_masks):
            pixel_feat = None
        head_inputs = self.forward_transformer_with_masks(
            img_feats, batch_data_samples, pixel_feat, text_dict=text_dict)
        results = self.bbox_head.predict(
            **head_inputs,
            batch_data_samples=batch_data_samples,
            rescale=rescale,
            with_masks=with_masks)
        return self.add_pred_to_datasample(batch_data_samples, results)
