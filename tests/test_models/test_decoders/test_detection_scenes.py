"""Tiny ShapesWorld-like scenes for the detection decoder tests (and tests of the scene helper).

The other ``test_detection*`` files import the helpers from here (setup.cfg puts this folder on
pytest's ``pythonpath``: pytest runs in importlib mode). Scenes are rendered with numpy: coloured
circles, squares and triangles on a grey background, never overlapping, with exact boxes and
instance masks.
"""
import json
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
import pycocotools.mask as mask_utils
import torch
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

from mmvisionllm.structures import MMDataSample

CLASSES = ('circle', 'square', 'triangle')
COLOURS = {'red': (220, 40, 40), 'green': (40, 160, 60), 'blue': (40, 80, 220)}


def _shape_mask(shape: str, cx: float, cy: float, radius: float, size: int) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    if shape == 'circle':
        return (xs - cx)**2 + (ys - cy)**2 <= radius**2
    if shape == 'square':
        return (np.abs(xs - cx) <= radius) & (np.abs(ys - cy) <= radius)
    # upright isosceles triangle inside the square of half-side `radius`
    top = cy - radius
    rel = (ys - top) / (2 * radius)
    return (ys >= top) & (ys <= cy + radius) & (np.abs(xs - cx) <= rel * radius)


def render_scenes(num_scenes: int,
                  size: int = 128,
                  seed: int = 0,
                  objects: Sequence[int] = (2, 3)) -> List[Dict]:
    """Render ``num_scenes`` scenes.

    Returns:
        list[dict]: per scene ``image`` uint8 Tensor [3, size, size], ``bboxes`` float Tensor [n, 4]
        (xyxy, pixels), ``labels`` long Tensor [n] (index into :data:`CLASSES`), ``masks`` uint8
        ndarray [n, size, size], ``colours`` list[str] and ``expressions`` list[str] (unique
        "the <colour> <shape>" per object).
    """
    rng = np.random.default_rng(seed)
    scenes = []
    colour_names = list(COLOURS)
    for _ in range(num_scenes):
        image = np.full((size, size, 3), 128, dtype=np.uint8)
        occupied = np.zeros((size, size), dtype=bool)
        masks, boxes, labels, colours, keys = [], [], [], [], set()
        count = int(rng.integers(objects[0], objects[-1] + 1))
        while len(masks) < count:
            label = int(rng.integers(len(CLASSES)))
            colour = colour_names[int(rng.integers(len(colour_names)))]
            if (label, colour) in keys:
                continue
            radius = float(rng.uniform(0.09, 0.16) * size)
            cx, cy = rng.uniform(radius + 2, size - radius - 2, size=2)
            mask = _shape_mask(CLASSES[label], cx, cy, radius, size)
            grown = np.zeros_like(mask)
            ys, xs = np.nonzero(mask)
            grown[max(ys.min() - 3, 0):ys.max() + 4, max(xs.min() - 3, 0):xs.max() + 4] = True
            if (grown & occupied).any():
                continue
            occupied |= grown
            image[mask] = COLOURS[colour]
            keys.add((label, colour))
            masks.append(mask.astype(np.uint8))
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            labels.append(label)
            colours.append(colour)
        scenes.append(
            dict(
                image=torch.from_numpy(image).permute(2, 0, 1).contiguous(),
                bboxes=torch.tensor(boxes, dtype=torch.float32),
                labels=torch.tensor(labels, dtype=torch.long),
                masks=np.stack(masks),
                colours=colours,
                expressions=[f'the {c} {CLASSES[lab]}' for c, lab in zip(colours, labels)]))
    return scenes


def det_sample(scene: Dict,
               img_id: int,
               token: str = '[DET]',
               ori_size: int = None,
               classes: Sequence[str] = CLASSES) -> MMDataSample:
    """A det/seg sample (targets = all classes in order) as the data pipeline packs it.

    ``ori_size`` (default: the scene size) makes the scene a resized view of a larger original.
    """
    size = scene['image'].shape[-1]
    ori = ori_size or size
    scale = size / ori
    sample = MMDataSample(
        metainfo=dict(
            img_id=img_id,
            ori_shape=(ori, ori),
            img_shape=(size, size),
            scale_factor=(scale, scale),
            task='seg' if token == '[SEG]' else 'det',
            target_names=list(classes),
            target_label_ids=list(range(len(classes))),
            link_tokens=[token] * len(classes)))
    sample.gt_instances = InstanceData(
        bboxes=scene['bboxes'].clone(),
        labels=scene['labels'].clone(),
        masks=BitmapMasks(scene['masks'], size, size))
    return sample


def grd_sample(scene: Dict, obj: int, img_id: int) -> MMDataSample:
    """A grounding sample referring to object ``obj`` of the scene (one target, label 0)."""
    size = scene['image'].shape[-1]
    sample = MMDataSample(
        metainfo=dict(
            img_id=img_id,
            ori_shape=(size, size),
            img_shape=(size, size),
            scale_factor=(1.0, 1.0),
            task='grd',
            target_names=[scene['expressions'][obj]],
            link_tokens=['[GRD]']))
    sample.gt_instances = InstanceData(
        bboxes=scene['bboxes'][obj:obj + 1].clone(), labels=torch.zeros(1, dtype=torch.long))
    return sample


def write_coco_json(scenes: List[Dict], path: str, classes: Sequence[str] = CLASSES) -> str:
    """COCO instances json (boxes + RLE masks) of the scenes; image ids are the scene indices."""
    images, annotations = [], []
    for img_id, scene in enumerate(scenes):
        size = scene['image'].shape[-1]
        images.append(dict(id=img_id, file_name=f'{img_id:06d}.png', width=size, height=size))
        for box, label, mask in zip(scene['bboxes'].tolist(), scene['labels'].tolist(),
                                    scene['masks']):
            rle = mask_utils.encode(np.asfortranarray(mask))
            rle['counts'] = rle['counts'].decode()
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=img_id,
                    category_id=label + 1,
                    bbox=[box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    area=float(mask.sum()),
                    iscrowd=0,
                    segmentation=rle))
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(classes)]
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return path


def write_refexp_json(refs: List[tuple], path: str) -> str:
    """MDETR-style refexp json read by mmdet's RefExpMetric: one image entry per expression.

    Args:
        refs (list[tuple]): (scene, object index) per expression; expression i gets image id i.
    """
    images, annotations = [], []
    for ref_id, (scene, obj) in enumerate(refs):
        size = scene['image'].shape[-1]
        x1, y1, x2, y2 = scene['bboxes'][obj].tolist()
        images.append(
            dict(
                id=ref_id,
                file_name=f'{ref_id:06d}.png',
                width=size,
                height=size,
                caption=scene['expressions'][obj],
                dataset_name='refcoco'))
        annotations.append(
            dict(
                id=ref_id + 1,
                image_id=ref_id,
                category_id=1,
                bbox=[x1, y1, x2 - x1, y2 - y1],
                area=(x2 - x1) * (y2 - y1),
                iscrowd=0))
    with open(path, 'w') as f:
        json.dump(
            dict(images=images, annotations=annotations, categories=[dict(id=1, name='object')]), f)
    return path


def test_scenes_are_deterministic_and_consistent(tmp_path):
    scenes = render_scenes(4, size=64, seed=3)
    again = render_scenes(4, size=64, seed=3)
    for scene, same in zip(scenes, again):
        assert torch.equal(scene['image'], same['image'])
        assert scene['image'].dtype == torch.uint8 and scene['image'].shape == (3, 64, 64)
        for box, mask in zip(scene['bboxes'], scene['masks']):
            ys, xs = np.nonzero(mask)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        # objects never overlap and each has its own colour+shape, so expressions are unique
        assert scene['masks'].sum(0).max() == 1
        assert len(set(scene['expressions'])) == len(scene['expressions'])
    coco = json.load(open(write_coco_json(scenes, osp.join(tmp_path, 'c.json'))))
    assert len(coco['images']) == 4
    assert len(coco['annotations']) == sum(len(s['labels']) for s in scenes)
