"""The two-stage UniPose/ED-Pose decoder: object decoding, then object + keypoint decoding.

Stage 1 (object layers) refines Q object queries and their boxes. The top-M of them (by class
score) then each spawn a group of 1 + K queries: the object query and K keypoint queries whose
content is the object query plus the keypoint's prompt (its projected link embedding) and whose
initial positions are predicted from the box. Stage 2 (pose layers) refines boxes and keypoints
together; self-attention is restricted to a group plus object-to-object attention (ED-Pose's
interaction design), expressed as an attention mask so mmdet's layers run unchanged.
Classification is by contrast with the prompts: object logits against the object-class prompts,
keypoint visibility logits against the keypoint's own prompt (UniPose classifies with text
embeddings at both levels).

Reused: mmdet's ``DeformableDetrTransformerDecoderLayer`` (self-attn + multi-scale deformable
cross-attn + FFN), ``coordinate_to_encoding`` / ``inverse_sigmoid`` / ``MLP`` (DINO's conditional
positional query and iterative refinement) and ``ContrastiveEmbed``. Ours: the group construction,
the masks and the refinement of keypoints. Keypoints use a 4-d reference (x, y, ratio·box w/h) so
the deformable sampling spread scales with the object.
"""
import math
from typing import Dict, List

import torch
from mmdet.models.dense_heads.grounding_dino_head import ContrastiveEmbed
from mmdet.models.layers import (MLP, DeformableDetrTransformerDecoderLayer, coordinate_to_encoding,
                                 inverse_sigmoid)
from mmengine.model import BaseModule, ModuleList
from torch import Tensor, nn

from mmvisionllm.registry import MODELS
from .query_selector import prompt_logits

__all__ = ['UniPoseTransformerDecoder']


@MODELS.register_module()
class UniPoseTransformerDecoder(BaseModule):
    """Object then pose decoding with iterative box and keypoint refinement.

    Args:
        layer_cfg (dict): kwargs of ``DeformableDetrTransformerDecoderLayer`` (``self_attn_cfg``,
            ``cross_attn_cfg``, ``ffn_cfg``); their ``embed_dims`` must equal ``embed_dims``.
        embed_dims (int): Width d.
        num_object_layers (int): Stage-1 layers. Defaults to 2.
        num_pose_layers (int): Stage-2 layers. Defaults to 4.
        num_pose_groups (int): M, the object queries expanded into pose groups. Defaults to 100.
        max_object_targets (int): Most object-class prompts per sample. Defaults to 1.
        kpt_ref_ratio (float): Keypoint reference box side as a fraction of the object box.
            Defaults to 0.1.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 layer_cfg: dict,
                 embed_dims: int = 256,
                 num_object_layers: int = 2,
                 num_pose_layers: int = 4,
                 num_pose_groups: int = 100,
                 max_object_targets: int = 1,
                 kpt_ref_ratio: float = 0.1,
                 init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_pose_layers < 1:
            raise ValueError('the pose decoder needs at least one pose layer')
        self.embed_dims = embed_dims
        self.num_pose_groups = num_pose_groups
        self.kpt_ref_ratio = kpt_ref_ratio
        self.object_layers = ModuleList(
            [DeformableDetrTransformerDecoderLayer(**layer_cfg) for _ in range(num_object_layers)])
        self.pose_layers = ModuleList(
            [DeformableDetrTransformerDecoderLayer(**layer_cfg) for _ in range(num_pose_layers)])
        self.object_pos_head = MLP(2 * embed_dims, embed_dims, embed_dims, 2)
        self.pose_pos_head = MLP(2 * embed_dims, embed_dims, embed_dims, 2)
        self.norm = nn.LayerNorm(embed_dims)
        self.cls_branch = ContrastiveEmbed(max_object_targets, log_scale='auto', bias=True)
        self.vis_bias = nn.Parameter(torch.zeros(1))
        self.box_branches = ModuleList(
            [MLP(embed_dims, embed_dims, 4, 3) for _ in range(num_object_layers + num_pose_layers)])
        # branch 0 places the keypoints inside the box, the others refine them layer by layer
        self.kpt_branches = ModuleList(
            [MLP(embed_dims, embed_dims, 2, 3) for _ in range(num_pose_layers + 1)])
        for branch in list(self.box_branches) + list(self.kpt_branches):
            nn.init.zeros_(branch.layers[-1].weight)
            nn.init.zeros_(branch.layers[-1].bias)

    def _layer(self,
               layer: nn.Module,
               pos_head: nn.Module,
               query: Tensor,
               refs: Tensor,
               feats: Dict[str, Tensor],
               self_attn_mask: Tensor = None) -> Tensor:
        """Run one mmdet decoder layer with a conditional positional query from 4-d references.

        Args:
            query (Tensor): [B, n, d]. refs (Tensor): [B, n, 4] (cx, cy, w, h) in [0, 1].

        Returns:
            Tensor: [B, n, d] the updated queries.
        """
        valid_ratios = feats['valid_ratios']
        refs_in = refs[:, :, None] * torch.cat([valid_ratios, valid_ratios], -1)[:, None]
        query_pos = pos_head(coordinate_to_encoding(refs_in[:, :, 0], self.embed_dims // 2))
        return layer(
            query,
            query_pos=query_pos,
            value=feats['memory'],
            key_padding_mask=feats['memory_mask'],
            self_attn_mask=self_attn_mask,
            spatial_shapes=feats['spatial_shapes'],
            level_start_index=feats['level_start_index'],
            valid_ratios=valid_ratios,
            reference_points=refs_in)

    def _vis_logits(self, kpt_feats: Tensor, kpt_embeds: Tensor) -> Tensor:
        """[B, M, K, d] keypoint features · [B, K, d] own prompts → [B, M, K] visibility logits."""
        sim = (kpt_feats * kpt_embeds[:, None]).sum(-1) / math.sqrt(self.embed_dims)
        return sim + self.vis_bias

    @staticmethod
    def _group_mask(num_groups: int, group_size: int, device: torch.device) -> Tensor:
        """[M·G, M·G] bool self-attention mask, True = blocked: queries see their own group and
        object queries also see each other."""
        idx = torch.arange(num_groups * group_size, device=device)
        group, is_obj = idx // group_size, idx % group_size == 0
        allowed = (group[:, None] == group[None]) | (is_obj[:, None] & is_obj[None])
        return ~allowed

    def forward(self, query: Tensor, ref_boxes: Tensor, feats: Dict[str,
                                                                    Tensor], obj_embeds: Tensor,
                obj_mask: Tensor, kpt_embeds: Tensor) -> List[Dict[str, Tensor]]:
        """Decode objects and keypoints.

        Args:
            query (Tensor): [B, Q, d] object content queries.
            ref_boxes (Tensor): [B, Q, 4] initial (cx, cy, w, h) in [0, 1].
            feats (dict): encoder outputs (``memory`` [B, S, d], ``memory_mask`` [B, S],
                ``spatial_shapes``, ``level_start_index``, ``valid_ratios`` [B, L, 2]).
            obj_embeds (Tensor): [B, T_o, d] object-class prompts; obj_mask (Tensor): [B, T_o].
            kpt_embeds (Tensor): [B, K, d] keypoint prompts.

        Returns:
            list[dict]: one dict per prediction stage, last = final. Every dict has ``cls``
            [B, n, T_o] logits and ``boxes`` [B, n, 4] (cx, cy, w, h) in [0, 1]; the pose stages
            (the keypoint initialisation and every pose layer, n = M) also have ``kpts``
            [B, M, K, 2] (x, y) in [0, 1] and ``kpt_logits`` [B, M, K] visibility logits. Object
            stages have n = Q.
        """
        outputs: List[Dict[str, Tensor]] = []
        refs = ref_boxes
        for i, layer in enumerate(self.object_layers):
            query = self._layer(layer, self.object_pos_head, query, refs, feats)
            hidden = self.norm(query)
            boxes = (self.box_branches[i](hidden) + inverse_sigmoid(refs)).sigmoid()
            outputs.append(
                dict(cls=prompt_logits(self.cls_branch, hidden, obj_embeds, obj_mask), boxes=boxes))
            refs = boxes.detach()

        # pose groups from the M best object queries
        batch_size, num_kpts, dims = kpt_embeds.shape
        if outputs:
            scores = outputs[-1]['cls'].detach().sigmoid().max(-1)[0]
            cls_all, box_all = outputs[-1]['cls'], outputs[-1]['boxes']
        else:
            scores = refs.new_zeros(refs.shape[:2])
            cls_all = prompt_logits(self.cls_branch, self.norm(query), obj_embeds, obj_mask)
            box_all = refs
        num_groups = min(self.num_pose_groups, query.size(1))
        top = scores.topk(num_groups, dim=1)[1]  # [B, M]

        def take(x: Tensor) -> Tensor:
            return torch.gather(
                x, 1,
                top.view(*top.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:]))

        obj_query, box = take(query), take(refs)
        kpt_query = obj_query[:, :, None] + kpt_embeds[:, None]  # [B, M, K, d]
        offsets = self.kpt_branches[0](self.norm(kpt_query))
        kpts = (box[:, :, None, :2] + offsets * box[:, :, None, 2:]).clamp(0., 1.)
        outputs.append(
            dict(
                cls=take(cls_all),
                boxes=take(box_all),
                kpts=kpts,
                kpt_logits=self._vis_logits(self.norm(kpt_query), kpt_embeds)))
        kpts = kpts.detach()

        group_size = num_kpts + 1
        queries = torch.cat([obj_query[:, :, None], kpt_query], 2).flatten(1, 2)
        attn_mask = self._group_mask(num_groups, group_size, queries.device)
        for j, layer in enumerate(self.pose_layers):
            kpt_refs = torch.cat(
                [kpts, (box[:, :, None, 2:] * self.kpt_ref_ratio).expand(-1, -1, num_kpts, -1)], -1)
            refs = torch.cat([box[:, :, None], kpt_refs], 2).flatten(1, 2)  # [B, M*G, 4]
            queries = self._layer(layer, self.pose_pos_head, queries, refs, feats, attn_mask)
            hidden = self.norm(queries).view(batch_size, num_groups, group_size, dims)
            obj_hidden, kpt_hidden = hidden[:, :, 0], hidden[:, :, 1:]
            new_box = (self.box_branches[len(self.object_layers) + j](obj_hidden) +
                       inverse_sigmoid(box)).sigmoid()
            new_kpts = (self.kpt_branches[j + 1](kpt_hidden) + inverse_sigmoid(kpts)).sigmoid()
            outputs.append(
                dict(
                    cls=prompt_logits(self.cls_branch, obj_hidden, obj_embeds, obj_mask),
                    boxes=new_box,
                    kpts=new_kpts,
                    kpt_logits=self._vis_logits(kpt_hidden, kpt_embeds)))
            box, kpts = new_box.detach(), new_kpts.detach()
        return outputs
