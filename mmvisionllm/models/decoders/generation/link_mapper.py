"""The link mapper of VisionLLM v2's image decoders: link embeddings → the UNet's text context.

Paper (arXiv 2406.08394): the N link embeddings of ``[GEN]`` / ``[EDIT]`` pass an MLP (Linear + GELU
+ Linear) and then a small transformer whose 77 learnable queries read them; its output takes the
place of the CLIP text embeddings as the UNet's cross-attention context.

Reused: the transformer is ``torch.nn.TransformerDecoder`` (queries self-attend and cross-attend to
the projected link embeddings); nothing of it is rewritten here.
"""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmvisionllm.registry import MODELS

__all__ = ['LinkMapper']

HEAD_CHANNELS = 64  # width of one attention head in Stable Diffusion's UNets


@MODELS.register_module()
class LinkMapper(BaseModule):
    """Map N link embeddings to Q context tokens for a diffusion UNet's cross-attention.

    Args:
        in_channels (int): Width C of the link embeddings (the LLM hidden size).
        out_channels (int): Width D of the context (the UNet's ``cross_attention_dim``).
        num_queries (int): Number Q of learnable output queries (77 = CLIP's text length in SD 1.5).
        hidden_channels (int, optional): Hidden width of the MLP. Defaults to ``out_channels``.
        num_layers (int): Transformer decoder layers. Defaults to 1.
        num_heads (int, optional): Attention heads (must divide ``out_channels``). None (the
            default): ``out_channels // 64``, the 64-wide heads of Stable Diffusion's own
            cross-attention (12 for SD 1.5's 768, 16 for SD 2.x's 1024, 32 for SDXL's 2048), or 1
            for a context narrower than 64.
        ffn_ratio (int): Feed-forward width / ``out_channels``. Defaults to 4.
        dropout (float): Dropout inside the transformer. Defaults to 0.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 num_queries: int = 77,
                 hidden_channels: Optional[int] = None,
                 num_layers: int = 1,
                 num_heads: Optional[int] = None,
                 ffn_ratio: int = 4,
                 dropout: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden_channels = hidden_channels or out_channels
        if num_heads is None:
            num_heads = max(out_channels // HEAD_CHANNELS, 1)
        if out_channels % num_heads:
            raise ValueError(f'link_mapper.num_heads={num_heads} does not divide its width '
                             f'out_channels={out_channels} (the UNet cross_attention_dim); leave '
                             f'num_heads out to use {max(out_channels // HEAD_CHANNELS, 1)}')
        self.num_heads = num_heads
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_queries = num_queries
        self.input_proj = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.GELU(),
            nn.Linear(hidden_channels, out_channels))
        self.queries = nn.Parameter(torch.randn(num_queries, out_channels) * 0.02)
        layer = nn.TransformerDecoderLayer(
            out_channels,
            num_heads,
            out_channels * ffn_ratio,
            dropout,
            activation='gelu',
            batch_first=True,
            norm_first=True)
        self.transformer = nn.TransformerDecoder(layer, num_layers, norm=nn.LayerNorm(out_channels))

    def forward(self, link_embeds: Tensor, padding_mask: Optional[Tensor] = None) -> Tensor:
        """Map link embeddings to the cross-attention context.

        Args:
            link_embeds (Tensor): [B, M, C] link embeddings (M = N, or T·N when a sample has several
                targets).
            padding_mask (Tensor, optional): [B, M] bool, True at positions to ignore. Every row
                must keep at least one position.

        Returns:
            Tensor: [B, Q, D] context tokens.
        """
        memory = self.input_proj(link_embeds)
        queries = self.queries.unsqueeze(0).expand(memory.size(0), -1, -1)
        return self.transformer(queries, memory, memory_key_padding_mask=padding_mask)
