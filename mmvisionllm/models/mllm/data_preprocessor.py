"""Data preprocessor of VisionLLMv2.

Reuses mmengine's ``BaseDataPreprocessor`` (device casting) and the model's
:class:`ConversationTokenizer` (handed over by VisionLLMv2 after it built the LLM, see
:meth:`bind`). It normalises the CLIP tiles, tokenises and right-pads the conversations and builds
the attention masks; the decoder view (``inputs['image']``) passes through untouched (the decoders
normalise it).
"""
import logging
from typing import List, Optional, Sequence

import torch
from mmengine.logging import print_log
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from mmvisionllm.registry import MODELS
from ..language_models.conversation_tokenizer import IGNORE_INDEX, ConversationTokenizer
from .length_policy import fit_conversation

__all__ = ['CLIPTileDataPreprocessor', 'VisionLLMv2DataPreprocessor', 'CLIP_MEAN', 'CLIP_STD']

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@MODELS.register_module()
class CLIPTileDataPreprocessor(BaseDataPreprocessor):
    """Normalise the CLIP tiles of packed samples (models that read images only).

    Args:
        mean (Sequence[float], optional): Per-channel mean of the CLIP tiles, in [0, 1] units.
            None: the vision tower's image processor's (see :meth:`set_image_statistics`), else
            OpenAI CLIP's.
        std (Sequence[float], optional): Per-channel std of the CLIP tiles, in [0, 1] units (None
            as ``mean``).
        non_blocking (bool): Non-blocking host-to-device copies.

    Output of :meth:`forward` (``inputs``): ``clip_pixels`` (list[Tensor | None]), per sample the
    [T, 3, S, S] normalised tiles.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        self.explicit_statistics = mean is not None or std is not None
        mean = CLIP_MEAN if mean is None else mean
        std = CLIP_STD if std is None else std
        self.register_buffer(
            'mean', torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer(
            'std', torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def set_image_statistics(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Take the checkpoint image processor's mean/std, unless the config gave its own."""
        if self.explicit_statistics:
            if not (torch.allclose(self.mean.flatten().cpu(),
                                   torch.tensor(mean).float())
                    and torch.allclose(self.std.flatten().cpu(),
                                       torch.tensor(std).float())):
                print_log(
                    f'data_preprocessor: the config\'s mean/std {self.mean.flatten().tolist()}/'
                    f'{self.std.flatten().tolist()} are used, not the vision checkpoint\'s '
                    f'{list(mean)}/{list(std)}',
                    logger='current',
                    level=logging.WARNING)
            return
        self.mean.copy_(torch.tensor(mean).view(1, 3, 1, 1))
        self.std.copy_(torch.tensor(std).view(1, 3, 1, 1))

    def normalize_tiles(self, tiles: Optional[Tensor]) -> Optional[Tensor]:
        """uint8 [T, 3, S, S] tiles -> float CLIP-normalised tiles (None stays None)."""
        if tiles is None:
            return None
        return (tiles.to(self.mean.device).float() / 255.0 - self.mean) / self.std

    def forward(self, data: dict, training: bool = False) -> dict:
        """``dict(inputs=dict(clip=[...]), data_samples=[...])`` -> normalised ``clip_pixels``."""
        data = self.cast_data(data)
        clip = data['inputs'].get('clip') or [None] * len(data['data_samples'])
        return dict(
            inputs=dict(clip_pixels=[self.normalize_tiles(tiles) for tiles in clip]),
            data_samples=data['data_samples'])


@MODELS.register_module()
class VisionLLMv2DataPreprocessor(CLIPTileDataPreprocessor):
    """Turn packed samples into model inputs.

    Args:
        mean (Sequence[float], optional): Per-channel mean of the CLIP tiles, in [0, 1] units
            (None: the CLIP folder's image processor's, else OpenAI CLIP's).
        std (Sequence[float], optional): Per-channel std of the CLIP tiles (None as ``mean``).
        max_length (int, optional): Longest token sequence. A longer conversation loses its last
            exchanges, then words of its first question, never image tokens, routing tokens or
            their queries, with a warning naming it (:mod:`.length_policy`); one whose image and
            first answer alone are longer is refused. None: no limit.
        non_blocking (bool): Non-blocking host-to-device copies.

    Output of :meth:`forward` (``inputs``):
        input_ids (Tensor): [B, L] right-padded ids with image/query placeholders.
        attention_mask (Tensor): [B, L] 1 for real tokens.
        labels (Tensor): [B, L] LM targets, -100 where not supervised.
        clip_pixels (list[Tensor | None]): per sample [T, 3, S, S] normalised tiles (thumbnail
            last).
        images (list[Tensor | None]): per sample the uint8 decoder view, untouched.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 max_length: Optional[int] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(mean=mean, std=std, non_blocking=non_blocking)
        self.max_length = max_length
        self.conversation_tokenizer: Optional[ConversationTokenizer] = None

    def bind(self, conversation_tokenizer: ConversationTokenizer) -> None:
        """Receive the tokenizer side of the model (called by VisionLLMv2 once it is built)."""
        self.conversation_tokenizer = conversation_tokenizer

    def pad(self, sequences: List[List[int]], value: int) -> Tensor:
        """Right-pad ``sequences`` into a [B, L] long tensor."""
        length = max(len(s) for s in sequences)
        padded = torch.full((len(sequences), length), value, dtype=torch.long, device=self.device)
        for row, sequence in enumerate(sequences):
            padded[row, :len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        return padded

    def _fit(self, sample, conversation: list, num_tiles: int, name: str) -> list:
        """``conversation`` shortened to ``max_length`` tokens by :func:`fit_conversation`."""
        fitted, dropped = fit_conversation(
            conversation, self.max_length,
            lambda turns: len(self.conversation_tokenizer.encode(turns, num_tiles).input_ids), name)
        if dropped:
            print_log(
                f'{name} is longer than max_length={self.max_length} tokens: dropped '
                f'{dropped}',
                logger='current',
                level=logging.WARNING)
            sample.set_metainfo(dict(conversation=fitted))
        return fitted

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a batch.

        Args:
            data (dict): ``dict(inputs=dict(clip=[...], image=[...]), data_samples=[...])`` as
                collated by mmengine's ``pseudo_collate``.
            training (bool): Unused: training and teacher-forced prediction feed the same sequence.

        Returns:
            dict: ``dict(inputs=..., data_samples=...)`` (see the class docstring).
        """
        if self.conversation_tokenizer is None:
            raise RuntimeError('VisionLLMv2DataPreprocessor has no tokenizer: it is bound by '
                               'VisionLLMv2, build it as the model\'s data_preprocessor')
        data = self.cast_data(data)
        inputs, data_samples = data['inputs'], data['data_samples']
        clip = inputs.get('clip') or [None] * len(data_samples)
        images = inputs.get('image') or [None] * len(data_samples)
        clip_pixels = [self.normalize_tiles(tiles) for tiles in clip]
        input_ids, labels = [], []
        for index, (sample, tiles) in enumerate(zip(data_samples, clip_pixels)):
            num_tiles = 0 if tiles is None else tiles.shape[0]
            name = (f'sample {index} (task={sample.metainfo.get("task")!r}, '
                    f'img_id={sample.metainfo.get("img_id")})')
            try:
                conversation = sample.metainfo['conversation']
                if self.max_length is not None:
                    conversation = self._fit(sample, conversation, num_tiles, name)
                encoded = self.conversation_tokenizer.encode(conversation, num_tiles)
            except (ValueError, KeyError) as error:
                raise type(error)(f'{name}: {error}') from error
            input_ids.append(encoded.input_ids)
            labels.append(encoded.labels)
        padded_ids = self.pad(input_ids, self.conversation_tokenizer.pad_token_id)
        attention_mask = self.pad([[1] * len(s) for s in input_ids], 0)
        return dict(
            inputs=dict(
                input_ids=padded_ids,
                attention_mask=attention_mask,
                labels=self.pad(labels, IGNORE_INDEX),
                clip_pixels=clip_pixels,
                images=list(images)),
            data_samples=data_samples)
