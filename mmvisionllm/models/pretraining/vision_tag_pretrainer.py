"""Vision-tower pre-training from captions, for the tiny random-init build.

The real VisionLLM v2 starts from a pretrained CLIP; the tiny tower of the CPU demo has none, and a
frozen random tower leaves the LLM nothing to read about shapes. This MMEngine ``BaseModel`` trains
the very tower VisionLLMv2 uses (``vision_encoder``, same config and parameter names) to predict
which tag words its image's captions contain (:class:`CocoCaptionTagDataset`): a per-token MLP,
max-pooled over the image's tokens (a tag is present if some patch shows it), and a binary
cross-entropy loss. Its checkpoint is a VisionLLMv2 stage's ``load_from``: the
``vision_encoder.*`` weights load, the tag head is left out (MMEngine loads non-strictly).
Reused: MMEngine's ``BaseModel`` and the project's CLIP tile normalisation
(:class:`CLIPTileDataPreprocessor`).
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample

__all__ = ['VisionTagPretrainer']


@MODELS.register_module()
class VisionTagPretrainer(BaseModel):
    """A vision encoder with a multi-label tag head.

    Args:
        vision_encoder (dict): The tower, e.g. VisionLLMv2's ``CLIPVisionEncoder`` config.
        num_tags (int): Size K of the tag vocabulary.
        head_channels (int): Hidden width of the per-token MLP. Defaults to 256.
        data_preprocessor (dict, optional): Defaults to ``CLIPTileDataPreprocessor``.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 vision_encoder: dict,
                 num_tags: int,
                 head_channels: int = 256,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor or dict(type='CLIPTileDataPreprocessor'),
            init_cfg=init_cfg)
        if num_tags < 1:
            raise ValueError(f'VisionTagPretrainer: num_tags must be >= 1, got {num_tags}')
        self.vision_encoder = MODELS.build(vision_encoder)
        self.num_tags = num_tags
        self.tag_head = nn.Sequential(
            nn.Linear(self.vision_encoder.hidden_size, head_channels), nn.ReLU(inplace=True),
            nn.Linear(head_channels, num_tags))

    def tag_logits(self, clip_pixels: Sequence[Optional[Tensor]]) -> Tensor:
        """Per-image tag logits.

        Args:
            clip_pixels (Sequence[Tensor]): Per sample [T_i, 3, S, S] normalised tiles.

        Returns:
            Tensor: [B, K] logits, the max over each image's tokens of all its tiles.
        """
        missing = [i for i, tiles in enumerate(clip_pixels) if tiles is None]
        if missing:
            raise ValueError(f'VisionTagPretrainer: sample(s) {missing} have no image')
        tokens = self.vision_encoder(torch.cat(list(clip_pixels))).patch_tokens  # [ΣT, L, C]
        return self.head_logits(tokens, [tiles.shape[0] for tiles in clip_pixels])

    def head_logits(self, tokens: Tensor, num_tiles: Sequence[int]) -> Tensor:
        """Tag logits of encoded images (also used to probe a frozen tower's features).

        Args:
            tokens (Tensor): [ΣT, L, C] patch tokens of the tiles of B images.
            num_tiles (Sequence[int]): T_i, the number of tiles of each image.

        Returns:
            Tensor: [B, K] logits, the max over each image's T_i * L tokens.
        """
        token_logits = self.tag_head(tokens).flatten(0, 1)  # [ΣT * L, K]
        counts = [n * tokens.shape[1] for n in num_tiles]
        return torch.stack([part.max(0).values for part in token_logits.split(counts)])

    def tag_targets(self, data_samples: Sequence[MMDataSample], device) -> Tensor:
        """[B, K] multi-hot targets from each sample's ``gt_tags``."""
        targets = torch.zeros(len(data_samples), self.num_tags, device=device)
        for row, sample in enumerate(data_samples):
            if 'gt_tags' not in sample.metainfo:
                raise KeyError(f'VisionTagPretrainer: sample {row} (img_id='
                               f'{sample.metainfo.get("img_id")}) has no gt_tags')
            tags = list(sample.metainfo['gt_tags'])
            if any(not 0 <= t < self.num_tags for t in tags):
                raise ValueError(f'VisionTagPretrainer: sample {row} (img_id='
                                 f'{sample.metainfo.get("img_id")}) has tags {tags} outside '
                                 f'0..{self.num_tags - 1}: num_tags and the dataset disagree')
            targets[row, tags] = 1.0
        return targets

    def forward(self,
                inputs: dict,
                data_samples: Optional[List[MMDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List[MMDataSample], Tensor]:
        """``loss``: ``dict(loss_tag=...)``; ``predict``: samples with ``pred_tag_scores`` [K]
        (sigmoid); ``tensor``: the [B, K] logits."""
        logits = self.tag_logits(inputs['clip_pixels'])
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            targets = self.tag_targets(data_samples, logits.device)
            return dict(loss_tag=F.binary_cross_entropy_with_logits(logits, targets))
        if mode == 'predict':
            for sample, scores in zip(data_samples, logits.sigmoid()):
                sample.pred_tag_scores = scores.detach()
            return list(data_samples)
        raise ValueError(f'VisionTagPretrainer: unknown mode {mode!r}')
