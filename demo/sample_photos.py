"""Write a set of real photographs of different sizes and modes for trying the demo.

    python demo/sample_photos.py --out-dir demo_photos

The photographs come from installed packages (matplotlib's ``mpl-data/sample_data`` and
scikit-image's ``skimage/data``, requirements/demo.txt); the modes that the packages do not ship
are derived from them with Pillow:

==========================  ===========  =========================================
file                        stored size  mode
==========================  ===========  =========================================
grace_hopper.jpg            512 x 600    RGB JPEG (matplotlib, as shipped)
astronaut.png               512 x 512    RGB PNG (scikit-image)
rocket.jpg                  640 x 427    RGB JPEG (scikit-image)
camera_16bit.png            512 x 512    16-bit grey PNG (from scikit-image's camera)
chelsea_rgba.png            451 x 300    RGBA PNG, transparent outside an ellipse
coffee_exif_rotated.jpg     400 x 600    JPEG stored on its side, EXIF orientation 6
motorcycle_4000x2700.jpg    4000 x 2700  a large RGB JPEG (motorcycle_left upscaled)
==========================  ===========  =========================================
"""
import argparse
import os
import os.path as osp
from typing import List

import numpy as np

__all__ = ['write_sample_photos']


def _skimage_file(name: str) -> str:
    try:
        import skimage
    except ImportError:
        raise ImportError('scikit-image ships the sample photographs: pip install -r '
                          'requirements/demo.txt') from None
    return osp.join(osp.dirname(skimage.__file__), 'data', name)


def write_sample_photos(out_dir: str) -> List[str]:
    """Write the photographs of the module docstring into ``out_dir``; returns their paths."""
    import matplotlib
    from PIL import Image
    os.makedirs(out_dir, exist_ok=True)
    written = []

    def out(name: str) -> str:
        written.append(osp.join(out_dir, name))
        return written[-1]

    mpl = osp.join(osp.dirname(matplotlib.__file__), 'mpl-data', 'sample_data')
    hopper = out('grace_hopper.jpg')
    with open(osp.join(mpl, 'grace_hopper.jpg'), 'rb') as src, open(hopper, 'wb') as dst:
        dst.write(src.read())
    Image.open(_skimage_file('astronaut.png')).convert('RGB').save(out('astronaut.png'))
    with open(_skimage_file('rocket.jpg'), 'rb') as src, open(out('rocket.jpg'), 'wb') as dst:
        dst.write(src.read())
    camera = np.asarray(Image.open(_skimage_file('camera.png')).convert('L'), np.uint16) * 257
    Image.fromarray(camera.astype(np.uint16)).save(out('camera_16bit.png'))
    chelsea = Image.open(_skimage_file('chelsea.png')).convert('RGB')
    w, h = chelsea.size
    ys, xs = np.mgrid[0:h, 0:w]
    inside = ((xs - w / 2) / (0.48 * w))**2 + ((ys - h / 2) / (0.48 * h))**2 <= 1
    rgba = np.dstack([np.asarray(chelsea), np.where(inside, 255, 0).astype(np.uint8)])
    Image.fromarray(rgba, 'RGBA').save(out('chelsea_rgba.png'))
    coffee = Image.open(_skimage_file('coffee.png')).convert('RGB')
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    coffee.transpose(Image.Transpose.ROTATE_90).save(
        out('coffee_exif_rotated.jpg'), exif=exif.tobytes(), quality=90)
    moto = Image.open(_skimage_file('motorcycle_left.png')).convert('RGB')
    large = moto.resize((4000, 2700), Image.Resampling.BICUBIC)
    large.save(out('motorcycle_4000x2700.jpg'), quality=85)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='demo_photos')
    for path in write_sample_photos(parser.parse_args().out_dir):
        print(path)


if __name__ == '__main__':
    main()
