"""Read and check the images a user gives the inferencer, the demo or the web app.

Files are decoded with Pillow (the decoder that knows the most formats and modes: 16-bit PNG/TIFF,
palette and CMYK images, GIF, WebP, EXIF orientation; OpenCV, behind ``mmcv.imread``, returns
nothing for a GIF, a truncated JPEG or a text file, which surfaced as ``!_src.empty() in function
'cvtColor'`` without the file's name). Every image then becomes one [H, W, 3] uint8 RGB array by
the rules of :func:`image_array_to_rgb`; what cannot be read is refused with an error that names
the file (or the array) and what is wrong. Sizes are not changed here: the config's test pipeline
(CLIP tiling, decoder view) does that.
"""
import os.path as osp
from typing import Optional, Union

import numpy as np
import torch

__all__ = ['ImageInputError', 'read_image_file', 'image_array_to_rgb', 'load_image_input']

# formats read from a folder (mmcv / mmdet's list plus GIF and TIFF, which Pillow decodes)
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp',
                    '.gif')


class ImageInputError(ValueError):
    """An input image that cannot be used (its name and the reason are in the message)."""


def read_image_file(path: str) -> np.ndarray:
    """Decode an image file into [H, W, 3] uint8 RGB.

    EXIF orientation is applied; an animated image gives its first frame; transparency is
    composited over white; 16-bit and float images are scaled by :func:`image_array_to_rgb`.

    Args:
        path (str): The file.

    Returns:
        np.ndarray: [H, W, 3] uint8 RGB.

    Raises:
        FileNotFoundError: The file does not exist.
        ImageInputError: The file is empty, not an image, truncated or of an unusable mode.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    if not osp.isfile(path):
        raise FileNotFoundError(f'image file {path!r} does not exist')
    if osp.getsize(path) == 0:
        raise ImageInputError(f'image file {path!r} is empty (0 bytes)')
    try:
        with Image.open(path) as image:
            image.load()  # decodes now: a truncated file raises here, not later
            image = ImageOps.exif_transpose(image)
            if image.mode == 'P':
                image = image.convert('RGBA' if 'transparency' in image.info else 'RGB')
            elif image.mode in ('1', 'CMYK', 'YCbCr', 'LAB', 'HSV', 'PA'):
                image = image.convert('RGBA' if image.mode == 'PA' else 'RGB')
            elif image.mode == 'LA':
                image = image.convert('RGBA')
            array = np.asarray(image)
    except UnidentifiedImageError:
        with open(path, 'rb') as f:
            head = f.read(8)
        raise ImageInputError(f'{path!r} is not an image file Pillow can read (it starts with '
                              f'{head!r})') from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageInputError(f'image file {path!r} cannot be decoded: {error}') from None
    return image_array_to_rgb(array, name=repr(path))


def image_array_to_rgb(array: Union[np.ndarray, torch.Tensor],
                       name: str = 'image array') -> np.ndarray:
    """An image array of any usual layout and type -> [H, W, 3] uint8 RGB (the documented rules).

    Layout: [H, W] is grey; [H, W, C] with C in 1, 3, 4 is channels-last; [C, H, W] with C in
    1, 3, 4 (and a last axis that is not 1, 3 or 4) is channels-first and is transposed. Channels
    are RGB (RGBA: the alpha channel composites the colours over white). Values: ``uint8`` as
    they are; ``bool`` as 0 / 255; ``uint16`` (and other integers above 255) from 0..65535 to
    0..255 (divided by 257); other integers in 0..255 as they are; floats in [0, 1] times 255,
    floats in (1, 255] as 0..255 values.

    Args:
        array (np.ndarray | Tensor): The image.
        name (str): How error messages name it.

    Returns:
        np.ndarray: [H, W, 3] uint8 RGB.

    Raises:
        ImageInputError: Empty, of another layout or dtype, NaN / infinite values, negative or
            out-of-range values.
    """
    if torch.is_tensor(array):
        array = array.detach().cpu().numpy()
    if not isinstance(array, np.ndarray):
        raise ImageInputError(f'{name}: expected an image array, got {type(array).__name__}')
    shape = tuple(array.shape)
    if array.size == 0:
        raise ImageInputError(f'{name}: empty image array of shape {shape}')
    if array.ndim == 2:
        array = array[..., None]
    elif array.ndim == 3:
        if shape[-1] not in (1, 3, 4):
            if shape[0] not in (1, 3, 4):
                raise ImageInputError(f'{name}: shape {shape} is neither [H, W, C] nor [C, H, W] '
                                      'with C in 1, 3, 4 channels')
            array = np.moveaxis(array, 0, -1)  # [C, H, W] -> [H, W, C]
    else:
        raise ImageInputError(f'{name}: expected [H, W], [H, W, C] or [C, H, W], got shape '
                              f'{shape}')
    array = _to_uint8_range(array, name)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    elif array.shape[-1] == 4:
        alpha = array[..., 3:].astype(np.float32) / 255.0
        array = array[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.ascontiguousarray(np.clip(np.round(array), 0, 255).astype(np.uint8))


def _to_uint8_range(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        if not finite.all():
            raise ImageInputError(f'{name}: {int((~finite).sum())} of {array.size} values are '
                                  'NaN or infinite')
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 255:
            raise ImageInputError(f'{name}: float values must lie in [0, 1] (or [0, 255]), got '
                                  f'[{low:g}, {high:g}]')
        return array * 255.0 if high <= 1.0 else array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 65535:
            raise ImageInputError(f'{name}: integer values must lie in [0, 65535], got '
                                  f'[{low}, {high}] ({array.dtype})')
        if array.dtype == np.uint16 or high > 255:
            return array.astype(np.float64) / 257.0
        return array.astype(np.uint8)
    raise ImageInputError(f'{name}: unsupported dtype {array.dtype}')


def load_image_input(image: Union[str, np.ndarray, torch.Tensor],
                     name: Optional[str] = None) -> np.ndarray:
    """A path or an array -> [H, W, 3] uint8 RGB (see :func:`read_image_file`,
    :func:`image_array_to_rgb`)."""
    if isinstance(image, str):
        return read_image_file(image)
    return image_array_to_rgb(image, name or 'image array')
