"""Pose specialist baseline: the UniPose decoder with learned prompts in place of link embeddings.

It answers "what does the LLM add?": the same decoder (backbone, widths, image view, losses) trained
alone, with one learned embedding table of N rows per target (the object class, then each keypoint),
exactly the shape of the link embeddings the LLM would hand over ([B, T, N, C]). UniPose used frozen
CLIP text embeddings in this place; a learned table is the closed-set equivalent.

Reused: MMEngine's ``BaseModel`` (``train_step``/``val_step`` and the runner's loss parsing) and its
``BaseDataPreprocessor`` (device casting only; the decoder normalises its own image view). Batches
come from the same pipeline as VisionLLMv2 (``inputs=dict(image=[uint8 [3, H, W], ...])``); a plain
list of images (mmdet/mmpose style ``inputs``) is accepted too.
"""
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample

__all__ = ['PoseSpecialist']


@MODELS.register_module()
class PoseSpecialist(BaseModel):
    """A pose decoder trained on its own, with a learned table in place of the link embeddings.

    Args:
        decoder (dict): pose decoder config (e.g. ``UniPoseDecoder`` from ``pose_tiny.py``); its
            ``in_channels`` is set to ``prompt_channels``.
        num_keypoints (int): K, keypoints of the dataset (targets = object classes + K).
        num_object_targets (int): Object classes per sample. Defaults to 1 (``'person'``).
        prompt_channels (int): Width C of the learned prompts. Defaults to 256.
        data_preprocessor (dict, optional): MMEngine data preprocessor; defaults to
            ``BaseDataPreprocessor`` (device casting only).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 decoder: dict,
                 num_keypoints: int,
                 num_object_targets: int = 1,
                 prompt_channels: int = 256,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor or dict(type='BaseDataPreprocessor'),
            init_cfg=init_cfg)
        self.decoder = MODELS.build(
            dict(decoder, in_channels=prompt_channels, num_object_targets=num_object_targets))
        self.num_targets = num_object_targets + num_keypoints
        self.prompts = nn.Embedding(self.num_targets * self.decoder.num_queries, prompt_channels)
        nn.init.normal_(self.prompts.weight, std=1.0)

    def link_inputs(self, batch_size: int) -> Dict[str, Tensor]:
        """The learned prompts in the link-embedding layout.

        Returns:
            dict: ``link_embeds`` [B, T, N, C] and ``link_mask`` [B, T] (all True).
        """
        embeds = self.prompts.weight.view(1, self.num_targets, self.decoder.num_queries, -1)
        return dict(
            link_embeds=embeds.expand(batch_size, -1, -1, -1),
            link_mask=torch.ones(
                batch_size, self.num_targets, dtype=torch.bool, device=embeds.device))

    @staticmethod
    def _images(inputs: Union[dict, List[Tensor]]) -> List[Tensor]:
        """The decoder views of a batch (``inputs['image']`` or a list of images)."""
        return list(inputs['image'] if isinstance(inputs, dict) else inputs)

    def forward(self,
                inputs: Union[dict, List[Tensor]],
                data_samples: Optional[List[MMDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List[MMDataSample], Dict]:
        """MMEngine entry point.

        Args:
            inputs (dict | list[Tensor]): ``dict(image=[uint8 [3, H, W], ...])`` or the image list.
            data_samples (list[MMDataSample], optional): with ``gt_instances`` for ``'loss'``.
            mode (str): ``'loss'`` → dict of losses; ``'predict'`` → samples with
                ``pred_instances``; ``'tensor'`` → the final decoder stage outputs (a dict of
                tensors).
        """
        images = self._images(inputs)
        link = self.link_inputs(len(images))
        if mode == 'loss':
            return self.decoder.loss(link['link_embeds'], link['link_mask'], images, data_samples)
        if mode == 'predict':
            return self.decoder.predict(link['link_embeds'], link['link_mask'], images,
                                        data_samples)
        if mode == 'tensor':
            return self.decoder.forward_outputs(
                link['link_embeds'], link['link_mask'], images, training=False)[0][-1]
        raise RuntimeError(f'invalid mode "{mode}"')
