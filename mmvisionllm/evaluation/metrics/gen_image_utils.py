"""Small image helpers of the generation/editing metrics (tensor ↔ numpy, resizing, PSNR).

Reused: OpenCV's area/linear resize; the rest is a few lines of numpy.
"""
from typing import Optional, Tuple

import cv2
import numpy as np
import torch

__all__ = ['to_hwc_uint8', 'resize_image', 'l1_and_psnr']


def to_hwc_uint8(image) -> Optional[np.ndarray]:
    """uint8 [3, H, W] tensor (the data-sample layout) or [H, W, 3] array → [H, W, 3] uint8 RGB."""
    if image is None:
        return None
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        if image.dtype != torch.uint8:
            image = image.float().clamp(0, 255).round().to(torch.uint8)
        image = image.numpy()
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] == 3 and image.shape[-1] != 3:
        image = image.transpose(1, 2, 0)
    return np.ascontiguousarray(image.astype(np.uint8))


def resize_image(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize [H, W, 3] to ``size`` = (H', W') (area filter when shrinking, bilinear otherwise)."""
    h, w = int(size[0]), int(size[1])
    if image.shape[:2] == (h, w):
        return image
    shrink = h < image.shape[0] or w < image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def l1_and_psnr(pred: np.ndarray,
                target: np.ndarray,
                max_psnr: float = 100.0) -> Tuple[float, float]:
    """Mean absolute error in [0, 1] and PSNR in dB of ``pred`` (resized to ``target``'s size).

    Args:
        pred (np.ndarray): [H', W', 3] uint8.
        target (np.ndarray): [H, W, 3] uint8.
        max_psnr (float): Value reported for identical images (infinite PSNR).

    Returns:
        tuple[float, float]: (L1, PSNR).
    """
    pred = resize_image(pred, target.shape[:2]).astype(np.float64)
    diff = pred - target.astype(np.float64)
    mse = float(np.mean(diff**2))
    psnr = max_psnr if mse == 0 else min(max_psnr, 10.0 * np.log10(255.0**2 / mse))
    return float(np.mean(np.abs(diff)) / 255.0), float(psnr)
