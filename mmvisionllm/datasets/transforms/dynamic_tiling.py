"""The CLIP view of VisionLLM v2's dynamic resolution: up to ``max_tiles`` S×S tiles + a thumbnail.

The grid (columns × rows, at most ``max_tiles`` tiles) is the one whose aspect ratio is closest to
the image's; among equally close grids the smallest one whose pixels cover the image is chosen
(the largest if none does). The image is resized to the grid, cut row-major into tiles, and a
global thumbnail (the whole image at S×S) is appended **last** when there is more than one tile
(a 1×1 grid's only tile already is the thumbnail). Resizing uses mmcv, with cv2 by default or
Pillow (``backend='pillow'``: the official release resizes with PIL's bicubic, which antialiases
when shrinking; its thumbnails differ from cv2's by up to 68 grey levels on sharp edges).
"""
import math
from typing import List, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from ...registry import TRANSFORMS

__all__ = ['DynamicTiling', 'choose_tile_grid']


def choose_tile_grid(width: int,
                     height: int,
                     tile_size: int,
                     max_tiles: int,
                     min_tiles: int = 1) -> Tuple[int, int]:
    """Pick the tile grid of an image.

    Args:
        width (int): Image width.
        height (int): Image height.
        tile_size (int): Tile side S.
        max_tiles (int): Largest number of tiles.
        min_tiles (int): Smallest number of tiles. Defaults to 1.

    Returns:
        tuple[int, int]: ``(columns, rows)``.
    """
    if not 1 <= min_tiles <= max_tiles:
        raise ValueError(f'need 1 <= min_tiles <= max_tiles, got {min_tiles}, {max_tiles}')
    grids = [(cols, rows) for cols in range(1, max_tiles + 1) for rows in range(1, max_tiles + 1)
             if min_tiles <= cols * rows <= max_tiles]
    log_aspect = math.log(width / height)
    errors = {grid: abs(math.log(grid[0] / grid[1]) - log_aspect) for grid in grids}
    best_error = min(errors.values())
    ties = sorted((g for g in grids if errors[g] - best_error < 1e-9), key=lambda g: g[0] * g[1])
    covering = [g for g in ties if g[0] * g[1] * tile_size**2 >= width * height]
    return covering[0] if covering else ties[-1]


@TRANSFORMS.register_module()
class DynamicTiling(BaseTransform):
    """Build the CLIP view from ``img``.

    Required keys: ``img`` [H, W, 3] uint8 (skipped if absent). Added keys: ``clip_img``
    [T, S, S, 3] uint8 (same channel order as ``img``; the thumbnail is ``clip_img[-1]``) and
    ``clip_grid`` ``(rows, columns)``.

    Put it right after image loading so the tiles see the original resolution.

    Args:
        tile_size (int): Tile side S (336 for CLIP-L/14-336; 64 or 112 for tiny models).
        max_tiles (int): Largest number of tiles (the thumbnail not counted). Defaults to 4.
        min_tiles (int): Smallest number of tiles. Defaults to 1.
        use_thumbnail (bool): Append the global thumbnail when there are several tiles.
            Defaults to True.
        interpolation (str): mmcv interpolation. Defaults to ``'bicubic'``.
        backend (str): mmcv resize backend, ``'cv2'`` (default) or ``'pillow'`` (as the official
            release's ``dynamic_preprocess``).
    """

    def __init__(self,
                 tile_size: int = 336,
                 max_tiles: int = 4,
                 min_tiles: int = 1,
                 use_thumbnail: bool = True,
                 interpolation: str = 'bicubic',
                 backend: str = 'cv2') -> None:
        self.tile_size = tile_size
        self.max_tiles = max_tiles
        self.min_tiles = min_tiles
        self.use_thumbnail = use_thumbnail
        self.interpolation = interpolation
        if backend not in ('cv2', 'pillow'):
            raise ValueError(f"DynamicTiling backend must be 'cv2' or 'pillow', got {backend!r}")
        self.backend = backend

    def transform(self, results: dict) -> dict:
        """Tile the image."""
        image = results.get('img')
        if image is None:
            return results
        height, width = image.shape[:2]
        size = self.tile_size
        cols, rows = choose_tile_grid(width, height, size, self.max_tiles, self.min_tiles)
        resize = dict(interpolation=self.interpolation, backend=self.backend)
        resized = mmcv.imresize(image, (cols * size, rows * size), **resize)
        tiles: List[np.ndarray] = [
            resized[r * size:(r + 1) * size, c * size:(c + 1) * size] for r in range(rows)
            for c in range(cols)
        ]
        if self.use_thumbnail and len(tiles) > 1:
            tiles.append(mmcv.imresize(image, (size, size), **resize))
        results['clip_img'] = np.ascontiguousarray(np.stack(tiles)).astype(np.uint8)
        results['clip_grid'] = (rows, cols)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(tile_size={self.tile_size}, max_tiles={self.max_tiles}, '
                f'min_tiles={self.min_tiles}, use_thumbnail={self.use_thumbnail})')
