"""The link mapper of the released VisionLLM v2 SD / InstructPix2Pix wrappers.

Official design (read from the VisionLLM v2 code, written anew here): the N link embeddings pass
``emb_proj`` (Linear(C, D) + GELU + Linear(D, D)); a full encoder-decoder transformer then encodes
them (1 encoder layer) and its decoder (1 layer) reads them with Q = 77 learned queries; ReLU
feed-forward of width 4·D, 8 heads, pre-norm, no dropout, and the final LayerNorm of each stack.
:class:`LinkMapper` differs (decoder only, GELU, 64-wide heads).

Reused: the transformer is ``torch.nn.Transformer`` itself, so the official tensor names below
``llm2sd_mapper.`` are this module's names below ``transformer.``;
:meth:`OfficialLinkMapper.convert_official_state_dict` renames the three official groups
(``emb_proj.``, ``llm2sd_mapper_queries``, ``llm2sd_mapper.``).
"""
import warnings
from typing import Dict, Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmvisionllm.registry import MODELS

__all__ = ['OfficialLinkMapper']

#: official name prefix -> ours (relative to the mapper)
_OFFICIAL_GROUPS = (('emb_proj.', 'input_proj.'), ('llm2sd_mapper.', 'transformer.'))
_OFFICIAL_QUERIES = 'llm2sd_mapper_queries'


@MODELS.register_module()
class OfficialLinkMapper(BaseModule):
    """Map N link embeddings to Q context tokens, as the official ``llm2sd_mapper``.

    Same interface as :class:`LinkMapper` (``in_channels``, ``out_channels``, ``num_queries``
    attributes; ``forward(link_embeds, padding_mask)``).

    Args:
        in_channels (int): Width C of the link embeddings (the LLM hidden size).
        out_channels (int): Width D of the context (the UNet's ``cross_attention_dim``, 768).
        num_queries (int): Number Q of learned queries. Defaults to 77.
        num_encoder_layers (int): Defaults to 1.
        num_decoder_layers (int): Defaults to 1.
        num_heads (int): Attention heads. Defaults to 8 (``nn.Transformer``'s default, which the
            official code keeps).
        ffn_ratio (int): Feed-forward width / D. Defaults to 4.
        dropout (float): Defaults to 0.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 num_queries: int = 77,
                 num_encoder_layers: int = 1,
                 num_decoder_layers: int = 1,
                 num_heads: int = 8,
                 ffn_ratio: int = 4,
                 dropout: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if out_channels % num_heads:
            raise ValueError(f'num_heads={num_heads} does not divide out_channels={out_channels}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_queries = num_queries
        self.input_proj = nn.Sequential(
            nn.Linear(in_channels, out_channels), nn.GELU(), nn.Linear(out_channels, out_channels))
        self.queries = nn.Parameter(torch.randn(1, num_queries, out_channels))
        with warnings.catch_warnings():  # 'enable_nested_tensor ... norm_first': expected
            warnings.filterwarnings('ignore', message='enable_nested_tensor is True')
            self.transformer = nn.Transformer(
                d_model=out_channels,
                nhead=num_heads,
                num_encoder_layers=num_encoder_layers,
                num_decoder_layers=num_decoder_layers,
                dim_feedforward=out_channels * ffn_ratio,
                dropout=dropout,
                activation='relu',
                batch_first=True,
                norm_first=True)

    def forward(self, link_embeds: Tensor, padding_mask: Optional[Tensor] = None) -> Tensor:
        """Map link embeddings to the cross-attention context.

        Args:
            link_embeds (Tensor): [B, M, C] link embeddings.
            padding_mask (Tensor, optional): [B, M] bool, True at positions to ignore (the
                encoder's keys and the decoder's memory). Every row keeps at least one position.

        Returns:
            Tensor: [B, Q, D] context tokens.
        """
        src = self.input_proj(link_embeds)
        tgt = self.queries.expand(src.size(0), -1, -1)
        if padding_mask is not None and not bool(padding_mask.any()):
            padding_mask = None  # nothing masked: the unmasked path (the official call)
        return self.transformer(
            src, tgt, src_key_padding_mask=padding_mask, memory_key_padding_mask=padding_mask)

    def convert_official_state_dict(self, official: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Rename the official mapper tensors (``emb_proj.*``, ``llm2sd_mapper_queries``,
        ``llm2sd_mapper.*``, wrapper prefix stripped) to this module's names.

        Raises:
            KeyError: listing the official keys without a place (unknown group or name, or
                another shape).
        """
        ours = self.state_dict()
        out, unplaced = {}, []
        for key, value in official.items():
            name = 'queries' if key == _OFFICIAL_QUERIES else None
            for src, dst in _OFFICIAL_GROUPS:
                if key.startswith(src):
                    name = dst + key[len(src):]
            if name is None or name not in ours or tuple(ours[name].shape) != tuple(value.shape):
                unplaced.append(f'{key} {tuple(value.shape)}')
                continue
            out[name] = value
        if unplaced:
            raise KeyError(f'OfficialLinkMapper: official keys not placed: {unplaced}')
        return out
