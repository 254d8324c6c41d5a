"""Pipeline transforms: CLIP tiling, keypoint resize, region prompts, target images, packing."""
import mmcv
import numpy as np
import pytest
import torch
from mmdet.structures.mask import BitmapMasks
from pycocotools import mask as mask_utils

from mmvisionllm.datasets.transforms import (DynamicTiling, LoadMultimodalAnnotations,
                                             LoadOptionalImageFromFile, LoadRegionPrompts,
                                             LoadTargetImage, PackMultimodalInputs,
                                             ResizeWithKeypoints, choose_tile_grid)
from mmvisionllm.registry import TRANSFORMS


@pytest.mark.parametrize(
    'size, max_tiles, expected',
    [
        ((128, 128), 4, (2, 2)),  # square, 4 tiles of 64 exactly cover it
        ((60, 60), 4, (1, 1)),  # small square: one tile covers it
        ((256, 64), 4, (4, 1)),  # wide 4:1
        ((64, 256), 4, (1, 4)),  # tall 1:4
        ((200, 100), 4, (2, 1)),  # 2:1
        ((128, 128), 1, (1, 1)),
    ])
def test_choose_tile_grid(size, max_tiles, expected):
    assert choose_tile_grid(size[0], size[1], 64, max_tiles) == expected


def test_dynamic_tiling_puts_the_thumbnail_last():
    image = np.random.default_rng(0).integers(0, 255, (100, 200, 3), dtype=np.uint8)
    results = DynamicTiling(tile_size=32, max_tiles=4)({'img': image})
    tiles = results['clip_img']
    assert tiles.shape == (3, 32, 32, 3) and tiles.dtype == np.uint8
    assert results['clip_grid'] == (1, 2)
    np.testing.assert_array_equal(tiles[-1],
                                  mmcv.imresize(image, (32, 32), interpolation='bicubic'))
    resized = mmcv.imresize(image, (64, 32), interpolation='bicubic')
    np.testing.assert_array_equal(tiles[0], resized[:, :32])
    np.testing.assert_array_equal(tiles[1], resized[:, 32:])
    single = DynamicTiling(tile_size=32, max_tiles=1)({'img': image})
    assert single['clip_img'].shape == (1, 32, 32, 3)
    assert DynamicTiling()({'img_path': None}) == {'img_path': None}
    with pytest.raises(ValueError):
        choose_tile_grid(10, 10, 8, max_tiles=2, min_tiles=3)


def test_load_multimodal_annotations_and_resize_with_keypoints():
    keypoints = np.array([[10, 20, 2], [30, 40, 1], [0, 0, 0]], np.float32)
    results = {
        'img':
        np.zeros((100, 200, 3), np.uint8),
        'img_shape': (100, 200),
        'ori_shape': (100, 200),
        'instances': [{
            'bbox': [10, 20, 50, 60],
            'bbox_label': 2,
            'ignore_flag': 0,
            'keypoints': keypoints
        }],
    }
    results = LoadMultimodalAnnotations(with_keypoints=True)(results)
    assert isinstance(results['gt_bboxes'], np.ndarray) and results['gt_bboxes'].shape == (1, 4)
    np.testing.assert_array_equal(results['gt_keypoints'][0], keypoints[:, :2])
    np.testing.assert_array_equal(results['gt_keypoints_visible'][0], [1, 1, 0])
    results = ResizeWithKeypoints(scale=(100, 50), keep_ratio=True)(results)
    assert results['img'].shape == (50, 100, 3) and results['scale_factor'] == (0.5, 0.5)
    np.testing.assert_allclose(results['gt_bboxes'], [[5, 10, 25, 30]])
    np.testing.assert_allclose(results['gt_keypoints'][0], keypoints[:, :2] / 2)
    empty = LoadMultimodalAnnotations(with_keypoints=True)({
        'instances': [],
        'num_keypoints': 3,
        'img_shape': (10, 10),
        'ori_shape': (10, 10)
    })
    assert empty['gt_keypoints'].shape == (0, 3, 2) and empty['gt_bboxes'].shape == (0, 4)


def test_region_prompts_become_masks():
    mask = np.zeros((20, 30), np.uint8)
    mask[5:8, 10:20] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    rle['counts'] = rle['counts'].decode()
    polygon = [[2.0, 2.0, 6.0, 2.0, 6.0, 6.0, 2.0, 6.0]]
    results = LoadRegionPrompts()({
        'ori_shape': (20, 30),
        'region_prompts': [{
            'type': 'box',
            'bbox': [1.5, 2, 3, 4]
        }, {
            'type': 'mask',
            'bbox': [10, 5, 10, 3],
            'segmentation': rle
        }, {
            'type': 'mask',
            'bbox': [2, 2, 4, 4],
            'segmentation': polygon
        }]
    })
    box, decoded, from_polygon = results['regions']
    assert box.dtype == bool and box.shape == (20, 30)
    assert box.sum() == 4 * 4 and box[2:6, 1:5].all()
    np.testing.assert_array_equal(decoded, mask.astype(bool))
    assert from_polygon[3:6, 3:6].all() and not from_polygon[10:].any()
    assert LoadRegionPrompts()({'region_prompts': []})['regions'] == []
    with pytest.raises(KeyError, match='ori_shape'):
        LoadRegionPrompts()({'region_prompts': [{'bbox': [0, 0, 1, 1]}]})


def test_load_target_image_and_optional_image(tmp_path):
    path = tmp_path / 'target.png'
    bgr = np.zeros((40, 60, 3), np.uint8)
    bgr[..., 0] = 255
    mmcv.imwrite(bgr, str(path))
    results = LoadTargetImage(scale=(30, 20))({'target_img_path': str(path)})
    assert results['gt_image'].shape == (20, 30, 3) and results['gt_image'][0, 0, 0] == 255
    assert LoadOptionalImageFromFile()({'img_path': None}) == {'img_path': None}
    loaded = LoadOptionalImageFromFile()({'img_path': str(path)})
    assert loaded['img'].shape == (40, 60, 3) and loaded['ori_shape'] == (40, 60)
    with pytest.raises(FileNotFoundError, match='missing.png'):
        LoadTargetImage()({'target_img_path': str(tmp_path / 'missing.png')})


def test_pack_multimodal_inputs_converts_to_rgb_and_splits_ignored():
    bgr = np.zeros((8, 10, 3), np.uint8)
    bgr[..., 0] = 200  # blue in BGR
    results = {
        'img': bgr,
        'clip_img': np.stack([bgr[:4, :4], bgr[:4, :4]]),
        'img_id': 3,
        'img_shape': (8, 10),
        'ori_shape': (8, 10),
        'task': 'det',
        'target_names': ['a', 'b'],
        'conversation': [],
        'unrelated_key': 1,
        'gt_bboxes': np.array([[0, 0, 2, 2], [1, 1, 3, 3]], np.float32),
        'gt_bboxes_labels': np.array([0, 1]),
        'gt_ignore_flags': np.array([False, True]),
        'gt_masks': BitmapMasks(np.ones((2, 8, 10), np.uint8), 8, 10),
        'gt_image': bgr,
    }
    packed = PackMultimodalInputs()(results)
    image, clip = packed['inputs']['image'], packed['inputs']['clip']
    assert image.shape == (3, 8, 10) and image.dtype == torch.uint8
    assert image[2].eq(200).all() and image[0].eq(0).all(), 'RGB order expected'
    assert clip.shape == (2, 3, 4, 4) and clip[:, 2].eq(200).all()
    sample = packed['data_samples']
    assert sample.gt_instances.bboxes.tolist() == [[0, 0, 2, 2]]
    assert sample.gt_instances.labels.tolist() == [0] and len(sample.gt_instances.masks) == 1
    assert sample.ignored_instances.bboxes.tolist() == [[1, 1, 3, 3]]
    assert sample.gt_image[2].eq(200).all()
    assert sample.link_tokens == ['[DET]', '[DET]'] and sample.img_id == 3
    assert 'unrelated_key' not in sample.metainfo
    text_only = PackMultimodalInputs()({'task': 'vqa', 'target_names': []})
    assert text_only['inputs'] == {'clip': None, 'image': None}
    assert text_only['data_samples'].link_tokens == []
    with pytest.raises(TypeError, match='uint8'):
        PackMultimodalInputs()({'img': bgr.astype(np.float32)})


def test_transforms_are_registered():
    for name in ('DynamicTiling', 'PackMultimodalInputs', 'ResizeWithKeypoints',
                 'LoadMultimodalAnnotations', 'LoadOptionalImageFromFile', 'LoadTargetImage',
                 'LoadRegionPrompts'):
        assert TRANSFORMS.get(name) is not None, name
