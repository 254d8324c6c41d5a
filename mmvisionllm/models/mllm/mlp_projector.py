"""Vision-to-language projector of VisionLLM v2: a 2-layer MLP with GELU (LLaVA-1.5's
``mlp2x_gelu``).

Plain ``nn.Sequential`` of torch layers; nothing to reuse beyond them.
"""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmvisionllm.registry import MODELS

__all__ = ['MLPProjector']


@MODELS.register_module()
class MLPProjector(BaseModule):
    """Linear(C_v -> C) -> GELU -> Linear(C -> C).

    Args:
        in_channels (int): Vision width C_v (VisionLLMv2 passes it).
        out_channels (int): LLM width C (VisionLLMv2 passes it).
        hidden_channels (int, optional): Width of the hidden layer. Defaults to ``out_channels``.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 hidden_channels: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden_channels = hidden_channels or out_channels
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.layers = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.GELU(),
            nn.Linear(hidden_channels, out_channels))

    def forward(self, features: Tensor) -> Tensor:
        """Project vision tokens.

        Args:
            features (Tensor): [..., C_v] vision tokens.

        Returns:
            Tensor: [..., C] tokens in the LLM's embedding space.
        """
        return self.layers(features.to(self.layers[0].weight.dtype))
