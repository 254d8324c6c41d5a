"""uint8 images ↔ the space the diffusion UNet works in (VAE latents, or pixels for tiny models).

Reused: the autoencoder is ``diffusers.AutoencoderKL`` (its ``encode(...).latent_dist`` and
``decode`` and its config's ``scaling_factor`` / ``latent_channels``), frozen, as in Stable
Diffusion and InstructPix2Pix. With ``vae=None`` the codec is the identity on pixels scaled to [-1,
1], which lets a tiny UNet learn 64-px ShapesWorld scenes on a CPU without first training an
autoencoder.

Why not diffusers' ``VaeImageProcessor``: its tensor path resizes a whole batch to one size with
``F.interpolate``'s default nearest mode, while the decoder views here arrive at their own sizes
and are resized one by one with antialiased bilinear filtering (down- and up-sampling ShapesWorld's
thin shapes with nearest neighbours aliases them); it also stops at float images, where the metrics
and visualisers take uint8 ``[3, H, W]`` tensors back at each sample's own size. What it would do
beyond that (``[0, 1] <-> [-1, 1]`` scaling) is two lines here.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmvisionllm.registry import MODELS

__all__ = ['ImageLatentCodec']


@MODELS.register_module()
class ImageLatentCodec(nn.Module):
    """Convert uint8 images to diffusion latents and back.

    Args:
        vae (nn.Module, optional): A frozen ``diffusers.AutoencoderKL``; None works in pixel space.
        image_size (int | tuple[int, int]): (H, W) the images are resized to before encoding, i.e.
            the resolution the decoder generates at.
    """

    def __init__(self, vae: Optional[nn.Module], image_size: Union[int, Sequence[int]]) -> None:
        super().__init__()
        self.vae = vae
        if vae is not None:
            vae.requires_grad_(False)
            vae.eval()
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.image_size: Tuple[int, int] = (int(size[0]), int(size[1]))

    @property
    def latent_channels(self) -> int:
        """Channels of the UNet's working space (4 for SD's VAE, 3 in pixel space)."""
        return int(self.vae.config.latent_channels) if self.vae is not None else 3

    @property
    def downsample_factor(self) -> int:
        """Spatial reduction of the VAE (8 for SD 1.5), 1 in pixel space."""
        if self.vae is None:
            return 1
        return 2**(len(self.vae.config.block_out_channels) - 1)

    @property
    def latent_size(self) -> Tuple[int, int]:
        """(h, w) of the latents of an ``image_size`` image."""
        f = self.downsample_factor
        return self.image_size[0] // f, self.image_size[1] // f

    def train(self, mode: bool = True) -> 'ImageLatentCodec':
        """Keep the frozen VAE in eval mode whatever the decoder's mode."""
        super().train(mode)
        if self.vae is not None:
            self.vae.eval()
        return self

    def to_pixels(self, images: Sequence[Tensor], device: torch.device) -> Tensor:
        """Stack uint8 images, resized to ``image_size`` and scaled to [-1, 1].

        Args:
            images (Sequence[Tensor]): uint8 [3, H_i, W_i] images (sizes may differ).
            device (torch.device): Target device.

        Returns:
            Tensor: float [B, 3, H, W] in [-1, 1], (H, W) = ``image_size``.
        """
        out = []
        for img in images:
            x = img.to(device=device, dtype=torch.float32).unsqueeze(0) / 127.5 - 1.0
            if tuple(x.shape[-2:]) != self.image_size:
                x = F.interpolate(
                    x, size=self.image_size, mode='bilinear', align_corners=False, antialias=True)
            out.append(x)
        return torch.cat(out, dim=0)

    @torch.no_grad()
    def encode(self, pixels: Tensor, sample: bool = True, scaled: bool = True) -> Tensor:
        """Encode [-1, 1] pixels [B, 3, H, W] to latents [B, c, H/f, W/f].

        ``sample=True`` draws from the VAE posterior (training targets), False takes its mode
        (InstructPix2Pix's source-image conditioning). ``scaled`` multiplies by the VAE's
        ``scaling_factor`` (the diffusion space); InstructPix2Pix conditions on the unscaled mode.
        """
        if self.vae is None:
            return pixels
        vae_dtype = next(self.vae.parameters()).dtype
        dist = self.vae.encode(pixels.to(vae_dtype)).latent_dist
        latents = dist.sample() if sample else dist.mode()
        return latents.float() * (float(self.vae.config.scaling_factor) if scaled else 1.0)

    def decode(self, latents: Tensor) -> Tensor:
        """Decode latents [B, c, h, w] to pixels [B, 3, h·f, w·f] clamped to [-1, 1]."""
        if self.vae is not None:
            vae_dtype = next(self.vae.parameters()).dtype
            latents = latents / float(self.vae.config.scaling_factor)
            latents = self.vae.decode(latents.to(vae_dtype)).sample.float()
        return latents.clamp(-1.0, 1.0)

    @staticmethod
    def to_uint8(pixels: Tensor,
                 sizes: Optional[Sequence[Optional[Tuple[int, int]]]] = None) -> List[Tensor]:
        """Turn [-1, 1] pixels [B, 3, H, W] into uint8 [3, H_i, W_i] CPU images.

        Args:
            pixels (Tensor): [B, 3, H, W] images in [-1, 1].
            sizes (Sequence[tuple | None], optional): Per-image output (H_i, W_i); None keeps (H,
            W).

        Returns:
            list[Tensor]: B uint8 images.
        """
        out = []
        for i, x in enumerate(pixels):
            size = sizes[i] if sizes is not None else None
            x = x.unsqueeze(0).float()
            if size is not None and tuple(size) != tuple(x.shape[-2:]):
                x = F.interpolate(
                    x, size=tuple(size), mode='bilinear', align_corners=False, antialias=True)
            x = ((x[0].clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
            out.append(x.cpu())
        return out
