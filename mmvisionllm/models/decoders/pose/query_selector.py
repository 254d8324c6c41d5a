"""Prompt-guided two-stage selection of the object queries (as Grounding DINO / UniPose).

Every encoder token proposes a box around its own location; it is scored by contrast with the
object-class prompts (the projected link embeddings of e.g. ``'person'``), and the top-Q tokens give
the initial reference boxes of the Q object queries. The content of each query is a learned
embedding plus the prompt of the class its token matched best, so the object queries are
conditioned on the link embeddings (and the decoder loss reaches the LLM through them).

Reused: mmdet's ``ContrastiveEmbed`` (Grounding DINO's text–query similarity, here with link prompts
in place of BERT features), ``MLP`` and ``inverse_sigmoid``. Ours: the per-level proposal grid (the
Deformable-DETR recipe: a box of side 0.05·2^level centred on each token) and the conditioning.
"""
from typing import Dict, List

import torch
from mmdet.models.dense_heads.grounding_dino_head import ContrastiveEmbed
from mmdet.models.layers import MLP
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmvisionllm.registry import MODELS

__all__ = ['PromptQuerySelector', 'prompt_logits']

_MASKED_LOGIT = -1e4


def prompt_logits(contrast: ContrastiveEmbed, feats: Tensor, prompts: Tensor,
                  prompt_mask: Tensor) -> Tensor:
    """Class logits by contrast with prompts; absent prompts get a large finite negative logit.

    Args:
        contrast (ContrastiveEmbed): the similarity layer.
        feats (Tensor): [B, Q, d] query (or token) features.
        prompts (Tensor): [B, T, d] class prompts.
        prompt_mask (Tensor): [B, T] bool, True where the prompt exists.

    Returns:
        Tensor: [B, Q, T] logits (finite, so focal/BCE losses never see ``-inf``).
    """
    logits = contrast(feats, prompts, prompt_mask)[..., :prompts.size(1)]
    return logits.masked_fill(~prompt_mask[:, None, :], _MASKED_LOGIT)


@MODELS.register_module()
class PromptQuerySelector(BaseModule):
    """Score encoder tokens against the object prompts and initialise the top-Q object queries.

    Args:
        embed_dims (int): Width d.
        num_queries (int): Number Q of object queries.
        max_object_targets (int): Most object-class prompts per sample (``ContrastiveEmbed`` pads
            its logits to this length). Defaults to 1.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 embed_dims: int,
                 num_queries: int,
                 max_object_targets: int = 1,
                 init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_queries = num_queries
        self.memory_trans_fc = nn.Linear(embed_dims, embed_dims)
        self.memory_trans_norm = nn.LayerNorm(embed_dims)
        self.cls_branch = ContrastiveEmbed(max_object_targets, log_scale='auto', bias=True)
        self.reg_branch = MLP(embed_dims, embed_dims, 4, 3)
        self.query_embed = nn.Embedding(num_queries, embed_dims)
        nn.init.zeros_(self.reg_branch.layers[-1].weight)
        nn.init.zeros_(self.reg_branch.layers[-1].bias)

    @staticmethod
    def proposals(memory_mask: Tensor, spatial_shapes: Tensor) -> Tensor:
        """One box proposal per encoder token, in inverse-sigmoid space.

        Args:
            memory_mask (Tensor): [B, S] bool, True on padding.
            spatial_shapes (Tensor): [L, 2] (h_l, w_l).

        Returns:
            Tensor: [B, S, 4] (cx, cy, w, h) logits; ``inf`` on padding and near the border.
        """
        batch_size = memory_mask.size(0)
        boxes: List[Tensor] = []
        start = 0
        for lvl, (h, w) in enumerate(spatial_shapes.tolist()):
            valid = ~memory_mask[:, start:start + h * w].view(batch_size, h, w)
            valid_h = valid[:, :, 0].sum(1).clamp(min=1).float()
            valid_w = valid[:, 0, :].sum(1).clamp(min=1).float()
            ys, xs = torch.meshgrid(
                torch.arange(h, device=memory_mask.device, dtype=torch.float32) + 0.5,
                torch.arange(w, device=memory_mask.device, dtype=torch.float32) + 0.5,
                indexing='ij')
            cx = xs.flatten()[None] / valid_w[:, None]
            cy = ys.flatten()[None] / valid_h[:, None]
            side = torch.full_like(cx, 0.05 * 2.0**lvl)
            boxes.append(torch.stack((cx, cy, side, side), -1))
            start += h * w
        boxes = torch.cat(boxes, 1)
        usable = ((boxes > 0.01) & (boxes < 0.99)).all(-1, keepdim=True) & ~memory_mask[..., None]
        logits = torch.log(boxes / (1 - boxes))
        return logits.masked_fill(~usable, float('inf'))

    def forward(self, memory: Tensor, memory_mask: Tensor, spatial_shapes: Tensor,
                obj_embeds: Tensor, obj_mask: Tensor) -> Dict[str, Tensor]:
        """Select the object queries.

        Args:
            memory (Tensor): [B, S, d] encoder output.
            memory_mask (Tensor): [B, S] bool, True on padding.
            spatial_shapes (Tensor): [L, 2] (h_l, w_l).
            obj_embeds (Tensor): [B, T_o, d] object-class prompts.
            obj_mask (Tensor): [B, T_o] bool.

        Returns:
            dict: ``query`` [B, Q, d] content queries, ``ref_boxes`` [B, Q, 4] initial
            (cx, cy, w, h) in [0, 1] (detached), ``enc_cls`` [B, Q, T_o] logits and ``enc_boxes``
            [B, Q, 4] of the selected tokens (for the encoder loss).
        """
        proposals = self.proposals(memory_mask, spatial_shapes)
        usable = torch.isfinite(proposals).all(-1)
        out_memory = memory.masked_fill(~usable[..., None], 0.)
        out_memory = self.memory_trans_norm(self.memory_trans_fc(out_memory))
        cls = prompt_logits(self.cls_branch, out_memory, obj_embeds, obj_mask)  # [B, S, T_o]
        boxes = self.reg_branch(out_memory) + proposals.masked_fill(~usable[..., None], 0.)

        best_score, best_class = cls.max(-1)
        best_score = best_score.masked_fill(~usable, float('-inf'))
        num_queries = min(self.num_queries, memory.size(1))
        topk = best_score.topk(num_queries, dim=1)[1]  # [B, Q]
        enc_cls = torch.gather(cls, 1, topk[..., None].expand(-1, -1, cls.size(-1)))
        enc_boxes = torch.gather(boxes, 1, topk[..., None].expand(-1, -1, 4)).sigmoid()
        cond = torch.gather(
            obj_embeds, 1,
            torch.gather(best_class, 1, topk)[..., None].expand(-1, -1, obj_embeds.size(-1)))
        query = self.query_embed.weight[None, :num_queries] + cond
        return dict(query=query, ref_boxes=enc_boxes.detach(), enc_cls=enc_cls, enc_boxes=enc_boxes)
