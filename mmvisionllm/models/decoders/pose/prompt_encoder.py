"""Link embeddings → object-class and keypoint prompts of the pose decoder.

VisionLLM v2 feeds UniPose with the LLM's link embeddings where UniPose used CLIP text embeddings of
the object class and of every keypoint name: each target's N link embeddings go through an MLP
(C → d) and are averaged over N. By the pose conversation contract
(``target_names = ['person', kpt_1, ..., kpt_K]``) the first ``num_object_targets`` valid targets of
a sample are object classes and the rest are its K keypoints, in metainfo order.

Centring (on by default): the link embeddings of one answer share most of their content (the same
N query rows after every ``[POSE]``, the same context), and only their differences say which target
is which. With a random-init LLM they are nearly identical (cosine ≈ 0.98 between targets on
ShapesWorld), so the decoder would wait for the LLM to pull them apart. Subtracting the mean prompt
of the sample's targets and rescaling the rest to unit RMS (one scale per sample, so the geometry
between targets is kept, unlike a per-vector LayerNorm) makes those differences the prompts from
the first step; a pretrained LLM's prompts pass through the same map unharmed.

Reused: mmdet's ``MLP`` (the same Linear/ReLU stack DETR heads use). Ours: the centring and the
split into prompts.
"""
from typing import Dict

import torch
from mmdet.models.layers.transformer import MLP
from mmengine.model import BaseModule
from torch import Tensor

from mmvisionllm.registry import MODELS

__all__ = ['LinkPromptEncoder']


@MODELS.register_module()
class LinkPromptEncoder(BaseModule):
    """Project link embeddings to d and split them into object-class and keypoint prompts.

    Args:
        in_channels (int): Width C of the link embeddings (the LLM hidden size).
        embed_dims (int): Decoder width d.
        num_object_targets (int): How many leading targets of a sample are object classes.
            Defaults to 1 (``'person'``).
        num_layers (int): Layers of the projection MLP. Defaults to 2.
        center (bool): Subtract the mean over a sample's targets and rescale them to unit RMS
            (see the module docstring). Defaults to True.
        eps (float): Floor of the RMS. Defaults to 1e-6.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dims: int,
                 num_object_targets: int = 1,
                 num_layers: int = 2,
                 center: bool = True,
                 eps: float = 1e-6,
                 init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_object_targets = num_object_targets
        self.proj = MLP(in_channels, embed_dims, embed_dims, num_layers)
        self.center = center
        self.eps = eps

    def forward(self, link_embeds: Tensor, link_mask: Tensor) -> Dict[str, Tensor]:
        """Split the targets of every sample into object and keypoint prompts.

        Args:
            link_embeds (Tensor): [B, T, N, C] link embeddings.
            link_mask (Tensor): [B, T] bool, True where a target exists.

        Returns:
            dict: ``obj_embeds`` [B, T_o, d], ``obj_mask`` [B, T_o] bool (T_o = num_object_targets),
            ``kpt_embeds`` [B, K, d] (K = valid targets - T_o, the same for every sample).
        """
        prompts = self.proj(link_embeds).mean(dim=2)  # [B, T, d]
        if self.center:
            valid = link_mask[..., None].to(prompts.dtype)  # [B, T, 1]
            count = valid.sum(1, keepdim=True).clamp(min=1)
            prompts = (prompts - (prompts * valid).sum(1, keepdim=True) / count) * valid
            rms = (prompts.pow(2).sum((1, 2), keepdim=True) / (count * prompts.size(-1))).sqrt()
            prompts = prompts / rms.clamp(min=self.eps)
        n_obj = self.num_object_targets
        counts = link_mask.sum(1).tolist()
        num_kpts = {int(c) - n_obj for c in counts}
        if len(num_kpts) != 1 or min(num_kpts) < 1:
            raise ValueError(
                'every pose sample needs the object target(s) followed by the same '
                f'number K >= 1 of keypoint targets; valid targets per sample: {counts}')
        obj_embeds, kpt_embeds = [], []
        for b in range(link_embeds.size(0)):
            valid = link_mask[b].nonzero(as_tuple=False).squeeze(1)
            obj_embeds.append(prompts[b, valid[:n_obj]])
            kpt_embeds.append(prompts[b, valid[n_obj:]])
        obj_embeds = torch.stack(obj_embeds)
        return dict(
            obj_embeds=obj_embeds,
            obj_mask=obj_embeds.new_ones(obj_embeds.shape[:2], dtype=torch.bool),
            kpt_embeds=torch.stack(kpt_embeds))
