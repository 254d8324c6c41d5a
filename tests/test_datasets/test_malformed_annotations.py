"""Malformed annotation files are refused when the dataset is built, naming the file and record
(truncated JSON, empty images, degenerate or mismatched image sizes, malformed polygons and
keypoints, empty VQA answers, missing LLaVA images)."""
import cv2
import numpy as np
import pytest

from mmvisionllm.datasets import AnnotationError, DatasetSampleError
from mmvisionllm.registry import DATASETS
from .conftest import load_json
from .test_bad_inputs import broken_root, dataset_cfg, write_json  # noqa: F401

COCO_FILES = [('det', 'instances_val.json'), ('pose', 'person_keypoints_val.json'),
              ('grd', 'refexp_val.json'), ('caption', 'captions_val.json')]


@pytest.mark.parametrize('task, ann_file', COCO_FILES)
def test_truncated_coco_json_names_the_file(broken_root, task, ann_file):  # noqa: F811
    path = broken_root / 'annotations' / ann_file
    path.write_text(path.read_text()[:-200])
    with pytest.raises(AnnotationError, match=f'{ann_file} is not valid JSON'):
        DATASETS.build(dataset_cfg(task, broken_root))


@pytest.mark.parametrize('task, ann_file', COCO_FILES)
def test_empty_images_list_is_named(broken_root, task, ann_file):  # noqa: F811
    path = broken_root / 'annotations' / ann_file
    write_json(path, dict(load_json(path), images=[], annotations=[]))
    with pytest.raises(AnnotationError, match=f'{ann_file}: "images" is empty'):
        DATASETS.build(dataset_cfg(task, broken_root))


def test_degenerate_image_record_is_refused(broken_root):  # noqa: F811
    path = broken_root / 'annotations' / 'instances_val.json'
    content = load_json(path)
    content['images'][0].update(width=1, height=1)
    write_json(path, content)
    with pytest.raises(AnnotationError, match=r'image id=\d+ .*1x1 pixels is degenerate'):
        DATASETS.build(dataset_cfg('det', broken_root))


@pytest.mark.parametrize('size', [(768, 1024), (1, 1)])
def test_image_of_another_size_than_its_record_is_refused(broken_root, size):  # noqa: F811
    """It used to rescale the boxes silently ([70,66,86,81] -> [8.8,8.2,10.8,10.1])."""
    dataset = DATASETS.build(dataset_cfg('det', broken_root))
    img_path = dataset.get_data_info(0)['img_path']
    cv2.imwrite(img_path, np.full(size + (3, ), 127, np.uint8))
    with pytest.raises(
            DatasetSampleError,
            match=f'is {size[1]}x{size[0]} .* its annotation record says 128x128'):
        dataset[0]


def _first_annotation_changed(root, ann_file, **changes):
    path = root / 'annotations' / ann_file
    content = load_json(path)
    content['annotations'][0].update(changes)
    write_json(path, content)
    return content['annotations'][0]['id']


@pytest.mark.parametrize('segmentation, message', [
    ([[10, 10, 20, 20]], 'not an even number >= 6'),
    ([[]], 'not an even number >= 6'),
    ([], 'an empty polygon list'),
    ([[200, 200, 300, 200, 300, 300]], 'lie outside the 128x128 image'),
])
def test_malformed_polygon_is_refused(broken_root, segmentation, message):  # noqa: F811
    ann_id = _first_annotation_changed(broken_root, 'instances_val.json', segmentation=segmentation)
    with pytest.raises(AnnotationError, match=message) as error:
        DATASETS.build(dataset_cfg('seg', broken_root))
    message = str(error.value)
    assert 'instances_val.json' in message and f'annotation id={ann_id}' in message


def test_point_part_beside_a_valid_outline_is_dropped_and_reported(broken_root):  # noqa: F811
    """The documented repair rule (real COCO train2017 has such objects): the 2-point part goes,
    the outline stays, the dataset counts the repair; a 2-point part alone is still refused."""
    outline = [10, 10, 40, 10, 40, 40, 10, 40]
    _first_annotation_changed(
        broken_root, 'instances_val.json', segmentation=[outline, [50, 50, 52, 52]])
    dataset = DATASETS.build(dataset_cfg('seg', broken_root))
    assert dataset.num_repaired_annotations == 1
    ann_id = load_json(broken_root / 'annotations' / 'instances_val.json')['annotations'][0]['id']
    masks = [
        inst.get('mask') for i in range(len(dataset))
        for inst in dataset.get_data_info(i)['instances'] if inst['ann_id'] == ann_id
    ]
    assert masks == [[outline]]


@pytest.mark.parametrize('first, message', [
    ([900, -300, 2], r'labelled keypoint 0 at \(900, -300\) lies outside'),
    ([30, 30, 7], r'visibility \[7.0\]'),
    ([float('nan'), 30, 2], 'NaN or infinite'),
])
def test_malformed_keypoints_are_refused(broken_root, first, message):  # noqa: F811
    path = broken_root / 'annotations' / 'person_keypoints_val.json'
    content = load_json(path)
    ann = next(a for a in content['annotations'] if a.get('keypoints'))
    ann['keypoints'][:3] = first
    write_json(path, content)
    with pytest.raises(AnnotationError, match=message) as error:
        DATASETS.build(dataset_cfg('pose', broken_root))
    assert f'annotation id={ann["id"]}' in str(error.value)


def test_vqa_record_without_answers_is_refused_at_build_time(broken_root):  # noqa: F811
    path = broken_root / 'annotations' / 'vqa_val_annotations.json'
    content = load_json(path)
    content['annotations'][0]['answers'] = []
    write_json(path, content)
    with pytest.raises(AnnotationError, match=r'question_id=\d+ has "answers" \[\]'):
        DATASETS.build(dataset_cfg('vqa', broken_root))


def test_llava_image_that_does_not_exist_is_refused_at_build_time(broken_root):  # noqa: F811
    entries = load_json(broken_root / 'annotations' / 'region_val.json')
    (broken_root / 'images' / 'val' / entries[1]['image'].split('/')[-1]).unlink()
    with pytest.raises(AnnotationError, match=r'region_val.json: entry \d+ .* does not exist'):
        DATASETS.build(dataset_cfg('region', broken_root))
