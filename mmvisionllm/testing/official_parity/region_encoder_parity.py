"""Parity of :class:`OfficialRegionEncoder` with the official reference (case A ``region_*``)."""
from typing import List, Tuple

import torch

from mmvisionllm.models.region_encoder import OfficialRegionEncoder
from .reference import load_official_prefix, max_abs_diff, reference_array

__all__ = ['region_encoder_parity']


def region_encoder_parity(reference_dir: str) -> List[Tuple[str, float, str]]:
    """Convert the reference ``region_encoder.*`` tensors, run case A's region inputs, compare.

    Rows: the encoder output against ``region_features``, and the seam check that the inputs the
    official forward gave the encoder (``region_image_features``) are the last three CLIP hidden
    states of the thumbnail without CLS (what VisionLLMv2 passes as ``region_layers``).
    """
    official = load_official_prefix(reference_dir, 'region_encoder.')
    images = reference_array(reference_dir, 'region_images')  # [R, 3, S, S]
    masks = reference_array(reference_dir, 'region_masks')  # [R, 1, S, S]
    levels = reference_array(reference_dir, 'region_image_features')  # [K, R, L, C_v]
    vision_channels, out_channels = official['up_dim.weight'].shape[1], official[
        'up_dim.weight'].shape[0]
    grid = int(levels.shape[2]**0.5)
    encoder = OfficialRegionEncoder(
        out_channels=int(out_channels),
        vision_channels=int(vision_channels),
        grid_size=grid,
        num_vision_layers=levels.shape[0])
    encoder.load_state_dict(encoder.convert_official_state_dict(official), strict=True)
    encoder.eval()
    rows = []
    seam = max(
        max_abs_diff(images[r], images[0]) + max_abs_diff(levels[:, r], levels[:, 0])
        for r in range(len(images)))
    clip = reference_array(
        reference_dir, 'llm_clip_hidden_states')  # [1 + n_layers, T, 1 + L, C_v], thumbnail last
    seam = max(seam, max_abs_diff(levels[:, 0], clip[-levels.shape[0]:, -1, 1:]))
    rows.append(('region_image_features = clip hidden_states[-3:] of the thumbnail (no CLS)', seam,
                 'the layers VisionLLMv2 hands the region encoder'))
    with torch.no_grad():
        ours = encoder(images[0], levels[:, 0], [m[0] for m in masks])
    pixels = [int((m != 0).sum()) for m in masks]
    rows.append(
        ('region_features', max_abs_diff(ours, reference_array(reference_dir, 'region_features')),
         f'OfficialRegionEncoder, masks of {pixels} px (<= {encoder.num_points}: all '
         'points, deterministic)'))
    return rows
