"""CLIP vision tower of VisionLLMv2.

Reuses HF ``CLIPVisionModel`` (tiny from ``CLIPVisionConfig`` kwargs or real from a local
checkpoint, e.g. ``openai/clip-vit-large-patch14-336`` saved with ``save_pretrained``; a full
``CLIPModel`` checkpoint loads its vision half). The wrapper only selects what VisionLLM v2 uses:
the patch tokens of hidden layer ``select_layer`` (-2) without CLS for the LLM, and the last
``num_region_layers`` (3) hidden layers for the region encoder. Freezing is decided by VisionLLMv2
(``frozen_components``); when no parameter here requires grad the tower runs under
``torch.no_grad`` and stays in eval mode (a frozen tower's norm statistics stay as loaded).
A random-init tower may take a ``conv_stem`` (:class:`ConvStem`) in place of its patch embedding.
A folder with an image processor (``preprocessor_config.json``, read with HF's
``ImageProcessingMixin.get_image_processor_dict``) gives the tiles' mean/std
(:attr:`CLIPVisionEncoder.image_statistics`, used by the data preprocessor); its crop size must be
the tower's tile size.
"""
import os.path as osp
from typing import NamedTuple, Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor
from transformers import CLIPVisionConfig, CLIPVisionModel
from transformers.image_processing_utils import ImageProcessingMixin

from mmvisionllm.registry import MODELS
from ..language_models.local_checkpoint import check_local_checkpoint

__all__ = ['CLIPVisionEncoder', 'CLIPFeatures']


class CLIPFeatures(NamedTuple):
    """Outputs of :class:`CLIPVisionEncoder` for T tiles.

    Attributes:
        patch_tokens (Tensor): [T, L, C_v] patch tokens of ``select_layer`` (CLS dropped).
        region_layers (Tensor): [T, K, L, C_v] patch tokens of the last K layers (CLS dropped).
    """

    patch_tokens: Tensor
    region_layers: Tensor


@MODELS.register_module()
class CLIPVisionEncoder(BaseModule):
    """HF CLIP vision model returning VisionLLM v2's features.

    Args:
        config (dict, optional): ``CLIPVisionConfig`` kwargs of a random-init tower. Exclusive with
            ``pretrained_path``.
        pretrained_path (str, optional): Local ``save_pretrained`` directory.
        select_layer (int): Hidden layer whose patch tokens feed the projector. Defaults to -2.
        num_region_layers (int): Number of last hidden layers handed to the region encoder (K).
        torch_dtype (str, optional): Weight dtype, e.g. ``'float16'``.
        conv_stem (dict, optional): A stem module (e.g. ``dict(type='ConvStem')``) replacing the
            patch embedding of a random-init tower; ``out_channels`` and ``patch_size`` are filled
            in from ``config``.
        init_cfg (dict, optional): Unused: HF initialises or loads the weights.
    """

    def __init__(self,
                 config: Optional[dict] = None,
                 pretrained_path: Optional[str] = None,
                 select_layer: int = -2,
                 num_region_layers: int = 3,
                 torch_dtype: Optional[str] = None,
                 conv_stem: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if (config is None) == (pretrained_path is None):
            raise ValueError('vision_encoder: give exactly one of `config` or `pretrained_path`')
        if conv_stem is not None and pretrained_path is not None:
            raise ValueError('vision_encoder: `conv_stem` replaces the patch embedding of a '
                             'random-init tower; it would discard the pretrained one of '
                             f'{pretrained_path!r}')
        dtype = getattr(torch, torch_dtype) if torch_dtype else None
        if pretrained_path is not None:
            self.clip = CLIPVisionModel.from_pretrained(
                check_local_checkpoint(pretrained_path, 'vision_encoder.pretrained_path'),
                local_files_only=True,
                dtype=dtype)
        else:
            self.clip = CLIPVisionModel(CLIPVisionConfig(**config))
            if conv_stem is not None:
                self.clip.embeddings.patch_embedding = MODELS.build(
                    conv_stem,
                    default_args=dict(
                        out_channels=self.clip.config.hidden_size,
                        patch_size=self.clip.config.patch_size))
            if dtype is not None:
                self.clip.to(dtype)
        self.select_layer = select_layer
        self.num_region_layers = num_region_layers
        self.image_statistics: Optional[Tuple[tuple, tuple]] = None
        if pretrained_path is not None:
            self.image_statistics = self._read_image_processor(pretrained_path)

    def _read_image_processor(self, path: str) -> Optional[Tuple[tuple, tuple]]:
        """(mean, std) of the folder's image processor, None without one."""
        if not osp.isfile(osp.join(path, 'preprocessor_config.json')):
            return None
        processor, _ = ImageProcessingMixin.get_image_processor_dict(path, local_files_only=True)
        crop = processor.get('crop_size') or {}
        crop = crop if isinstance(crop, dict) else dict(height=crop, width=crop)
        sides = {crop.get('height'), crop.get('width')} - {None}
        if sides and sides != {self.image_size}:
            raise ValueError(f'vision_encoder.pretrained_path={path!r}: its image processor crops '
                             f'{sorted(sides)} px but the tower takes {self.image_size} px tiles '
                             '(config.json image_size)')
        if 'image_mean' not in processor or 'image_std' not in processor:
            return None
        return tuple(processor['image_mean']), tuple(processor['image_std'])

    @property
    def image_size(self) -> int:
        """Tile side S in pixels."""
        return self.clip.config.image_size

    @property
    def hidden_size(self) -> int:
        """Width C_v of the vision features."""
        return self.clip.config.hidden_size

    @property
    def grid_size(self) -> int:
        """Side g of the patch grid (S / patch size)."""
        return self.clip.config.image_size // self.clip.config.patch_size

    @property
    def tokens_per_tile(self) -> int:
        """Number L of patch tokens per tile (g * g)."""
        return self.grid_size**2

    def init_weights(self) -> None:
        """Keep the HF weights (HF's ``init_weights`` would re-initialise a loaded checkpoint)."""

    @property
    def frozen(self) -> bool:
        """Whether no parameter of the tower requires grad."""
        return not any(p.requires_grad for p in self.parameters())

    def train(self, mode: bool = True) -> 'CLIPVisionEncoder':
        """Set the training mode; a frozen tower stays in eval."""
        return super().train(mode and not self.frozen)

    def forward(self, pixel_values: Tensor) -> CLIPFeatures:
        """Encode normalised tiles.

        Args:
            pixel_values (Tensor): [T, 3, S, S] CLIP-normalised tiles.

        Returns:
            CLIPFeatures: patch tokens [T, L, C_v] and region layers [T, K, L, C_v].
        """
        if pixel_values.shape[-1] != self.image_size or pixel_values.shape[-2] != self.image_size:
            raise ValueError(f'CLIP tiles must be {self.image_size}x{self.image_size}, got '
                             f'{tuple(pixel_values.shape[-2:])}')
        with torch.set_grad_enabled(not self.frozen and torch.is_grad_enabled()):
            dtype = next(self.clip.parameters()).dtype
            outputs = self.clip(pixel_values=pixel_values.to(dtype), output_hidden_states=True)
            hidden_states = outputs.hidden_states
            patch_tokens = hidden_states[self.select_layer][:, 1:]
            region_layers = torch.stack(hidden_states[-self.num_region_layers:], dim=1)[:, :, 1:]
        return CLIPFeatures(patch_tokens=patch_tokens, region_layers=region_layers)
