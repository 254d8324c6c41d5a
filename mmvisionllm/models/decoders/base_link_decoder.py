"""The decoder plugin contract of the super link.

A decoder is any registered subclass of :class:`BaseLinkDecoder`. VisionLLMv2 builds the decoders
named in its config (``decoders=dict(det=dict(type=...), pose=...)``), creates one learnable query
table of ``num_queries`` rows per decoder, adds the decoder's ``routing_tokens`` to the tokenizer
and, whenever one of them occurs in a sequence, appends the queries after it. The last-layer LLM
hidden states at the query positions (the link embeddings) are handed to the decoder. The core knows
nothing else about a decoder: boxes, keypoints and images live entirely in the plugin.
"""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence

from mmengine.model import BaseModule
from torch import Tensor

from mmvisionllm.structures import MMDataSample

__all__ = ['BaseLinkDecoder']


class BaseLinkDecoder(BaseModule, metaclass=ABCMeta):
    """Base class of task decoders fed by link embeddings.

    Args:
        routing_tokens (Sequence[str]): The routing tokens handled by this decoder, e.g.
            ``('[DET]', '[SEG]', '[GRD]')``. Each must be unique among the configured decoders.
        num_queries (int): Number of learnable query embeddings the LLM processes after each routing
            token (N). The decoder receives N link embeddings per target.
        in_channels (int): Width C of the link embeddings, i.e. the LLM hidden size. The core passes
            it when the config leaves it out and checks it otherwise.
        context_tokens (Sequence[str]): Routing tokens of other decoders whose links this decoder
            takes instead of their owner when they occur in the same sample (answer) as one of its
            own tokens, e.g. the official UniPose reads the person ``[DET]`` link of a pose answer
            as its object query. Their group must have the same ``num_queries``. Defaults to none.
        init_cfg (dict, optional): MMEngine initialisation config.

    Calling convention of :meth:`loss` and :meth:`predict`:
        link_embeds (Tensor): [B, T, N, C] link embeddings, T = the largest number of routing tokens
            of this decoder in one sample of the batch (one per target: class name, referred
            object...).
        link_mask (Tensor): [B, T] bool, True where a target exists.
        images (list[Tensor] | None): the decoder's own image view per sample, uint8 [3, H, W] as
            packed by the data pipeline (the decoder normalises and pads it itself, e.g. with an
            mmdet ``DetDataPreprocessor``), or None when the batch has no image view.
        data_samples (list[MMDataSample]): the batch's samples; their metainfo ``link_tokens``
            lists, per target, which routing token produced it (a context token's links are
            among them, in answer order).
    """

    def __init__(self,
                 routing_tokens: Sequence[str],
                 num_queries: int,
                 in_channels: int,
                 context_tokens: Sequence[str] = (),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not routing_tokens:
            raise ValueError(f'{type(self).__name__} needs at least one routing token')
        self.routing_tokens = tuple(routing_tokens)
        overlap = set(context_tokens) & set(self.routing_tokens)
        if overlap:
            raise ValueError(f'{type(self).__name__}: {sorted(overlap)} are both its routing and '
                             'its context tokens')
        self.context_tokens = tuple(context_tokens)
        self.num_queries = int(num_queries)
        self.in_channels = int(in_channels)

    @abstractmethod
    def loss(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
             data_samples: List[MMDataSample]) -> Dict[str, Tensor]:
        """Return a dict of losses (keys starting with ``loss_``) and optional logged values."""

    @abstractmethod
    def predict(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
                data_samples: List[MMDataSample]) -> List[MMDataSample]:
        """Fill and return ``data_samples`` with predictions (``pred_instances`` or ``pred_image``),
        in the original image's coordinates."""

    def routing_token(self, sample: MMDataSample) -> str:
        """The routing token of a sample: its metainfo ``link_tokens`` (first), else the token of
        its registered task when this decoder handles it, else this decoder's first token."""
        from mmvisionllm.datasets.task_definitions import routing_token_of
        from mmvisionllm.datasets.task_registry import TASKS
        tokens = sample.metainfo.get('link_tokens')
        if tokens:
            return tokens[0]
        task = sample.metainfo.get('task', 'det')
        token = routing_token_of(task) if task in TASKS else None
        return token if token in self.routing_tokens else self.routing_tokens[0]

    def emitted_targets_error(self, routing_tokens: Sequence[str]) -> Optional[str]:
        """Why the targets a free-running answer emitted cannot be decoded, or None if they can.

        In chat the LLM chooses the targets itself and may emit a structure the decoder cannot read
        (e.g. a pose object without keypoint names). That is a wrong answer of the model, not bad
        input: the core records this reason in the reply instead of calling :meth:`predict`.

        Args:
            routing_tokens (Sequence[str]): The routing token of each emitted target, in order.
        """
        return None
