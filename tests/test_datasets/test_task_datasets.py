"""Every task config builds its dataset and emits the packed sample of architecture section 1."""
import copy

import cv2
import mmcv
import numpy as np
import pytest
import torch

from mmvisionllm.datasets import TASK_INSTRUCTIONS, MultiTaskDataset
from mmvisionllm.datasets.instruction_templates import EDIT_ANSWER, GENERATION_ANSWER
from mmvisionllm.datasets.shapesworld.world_spec import CATEGORY_NAMES, KEYPOINT_NAMES
from mmvisionllm.datasets.task_definitions import ROUTING_TOKENS
from mmvisionllm.structures import MMDataSample
from .conftest import TASKS, task_config

DECODER_TASKS = ('det', 'seg', 'grd', 'pose', 'gen', 'edit')
TEXT_TASKS = ('vqa', 'caption', 'region')


def human_and_answer(sample: MMDataSample):
    """The first human turn and the last answer."""
    turns = sample.conversation
    assert turns[0]['from'] == 'human' and turns[-1]['from'] == 'gpt'
    return turns[0]['value'], turns[-1]['value']


def check_image_views(packed: dict, sample: MMDataSample) -> None:
    """CLIP tiles (thumbnail last) and the decoder view agree with the image file."""
    clip, image = packed['inputs']['clip'], packed['inputs']['image']
    assert clip.dtype == torch.uint8 and clip.shape == (5, 3, 64, 64)
    assert image.dtype == torch.uint8 and image.shape == (3, 128, 128)
    rgb = cv2.imread(sample.img_path)[..., ::-1]
    assert torch.equal(image, torch.from_numpy(rgb.copy()).permute(2, 0, 1))
    thumbnail = mmcv.imresize(rgb.copy(), (64, 64), interpolation='bicubic')
    assert torch.equal(clip[-1], torch.from_numpy(thumbnail).permute(2, 0, 1))
    # A 128 px scene is cut into 2x2 tiles of 64 px, row-major.
    assert torch.equal(clip[0], image[:, :64, :64]) and torch.equal(clip[3], image[:, 64:, 64:])
    assert sample.ori_shape == (128, 128) and sample.img_shape == (128, 128)


@pytest.mark.parametrize('task', TASKS)
@pytest.mark.parametrize('split', ['train', 'val'])
def test_sample_fields(build_task_dataset, task, split):
    dataset = build_task_dataset(task, split)
    assert len(dataset) > 0 and dataset.task == task
    for index in range(min(len(dataset), 4)):
        packed = dataset[index]
        sample = packed['data_samples']
        assert isinstance(sample, MMDataSample) and sample.task == task
        assert sample.dataset_name == 'shapesworld'
        question, answer = human_and_answer(sample)
        token = ROUTING_TOKENS.get(task)
        if task in DECODER_TASKS:
            assert answer.count(token) == len(sample.target_names) >= 1
            assert sample.link_tokens == [token] * len(sample.target_names)
            for name in sample.target_names:
                assert f'{name} {token}' in answer
        else:
            assert sample.target_names == [] and sample.link_tokens == []
            full_text = ' '.join(turn['value'] for turn in sample.conversation)
            assert not any(t in full_text for t in ROUTING_TOKENS.values())
        if task == 'gen':
            assert packed['inputs'] == {'clip': None, 'image': None}
            assert '<image>' not in question
        else:
            assert question.startswith('<image>\n') and question.count('<image>') == 1
            check_image_views(packed, sample)
        if task in ('gen', 'edit'):
            assert sample.target_names == ['image']
            assert sample.gt_image.dtype == torch.uint8 and sample.gt_image.shape == (3, 128, 128)
            assert answer == {'gen': GENERATION_ANSWER, 'edit': EDIT_ANSWER}[task]


@pytest.mark.parametrize('task', ['det', 'seg', 'grd', 'pose'])
def test_boxes_lie_inside_the_image(build_task_dataset, task):
    dataset = build_task_dataset(task, 'val')
    seen = 0
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        boxes = sample.gt_instances.bboxes
        assert boxes.dtype == torch.float32 and boxes.shape[1] == 4
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= 128).all() and (boxes[:, 3] <= 128).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        labels = sample.gt_instances.labels
        assert labels.dtype == torch.int64
        assert ((labels >= 0) & (labels < len(sample.target_names))).all()
        seen += len(boxes)
        if task == 'seg':
            masks = sample.gt_instances.masks.to_ndarray()
            assert masks.shape == (len(boxes), 128, 128)
            for mask, box in zip(masks, boxes.numpy()):
                ys, xs = np.nonzero(mask)
                assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == box.tolist()
    assert seen > 0


def test_detection_targets_follow_the_dataset_in_test_mode(build_task_dataset):
    sample = build_task_dataset('det', 'val')[0]['data_samples']
    assert sample.target_names == list(CATEGORY_NAMES)
    assert sample.target_label_ids == list(range(len(CATEGORY_NAMES)))
    question, _ = human_and_answer(sample)
    assert question == '<image>\n' + TASK_INSTRUCTIONS['det'][0].format(
        classes=', '.join(CATEGORY_NAMES))


def test_detection_targets_are_shuffled_in_training_and_labels_follow(build_task_dataset,
                                                                      shapesworld_root):
    from pycocotools.coco import COCO
    coco = COCO(str(shapesworld_root / 'annotations' / 'instances_train.json'))
    dataset = build_task_dataset('det', 'train')
    orders, templates = set(), set()
    for repeat in range(8):
        sample = dataset[1]['data_samples']
        orders.add(tuple(sample.target_names))
        templates.add(human_and_answer(sample)[0])
        assert sorted(sample.target_names) == sorted(CATEGORY_NAMES)
        names = sorted(sample.target_names[label] for label in sample.gt_instances.labels.tolist())
        img_id = sample.img_id
        expected = sorted(coco.cats[a['category_id']]['name']
                          for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id)))
        assert names == expected
        assert [CATEGORY_NAMES[i] for i in sample.target_label_ids] == sample.target_names
    assert len(orders) > 1 and len(templates) > 1


def test_max_targets_keeps_every_present_class(build_task_dataset):
    dataset = build_task_dataset('det', 'train', max_targets=2)
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        assert len(sample.gt_instances.labels) == len(dataset.get_data_info(index)['instances'])
        present = {
            CATEGORY_NAMES[label]
            for label in (i['bbox_label'] for i in dataset.get_data_info(index)['instances'])
        }
        assert present <= set(sample.target_names)
        assert len(sample.target_names) == max(2, len(present))


def test_grounding_target_is_the_expression(build_task_dataset, shapesworld_root):
    dataset = build_task_dataset('grd', 'val')
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        question, answer = human_and_answer(sample)
        expression = sample.target_names[0]
        assert len(sample.target_names) == 1 and answer == f'{expression} [GRD]'
        assert expression in question and question.startswith('<image>\nPlease locate')
        assert sample.gt_instances.labels.tolist() == [0]


def test_pose_keypoints_are_consistent_with_visibility(build_task_dataset):
    dataset = build_task_dataset('pose', 'val')
    persons = 0
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        assert sample.target_names == ['person'] + list(KEYPOINT_NAMES)
        gt = sample.gt_instances
        count = len(gt.bboxes)
        assert gt.keypoints.shape == (count, len(KEYPOINT_NAMES), 2)
        assert gt.keypoints_visible.shape == (count, len(KEYPOINT_NAMES))
        assert set(gt.keypoints_visible.unique().tolist()) <= {0.0, 1.0}
        assert sample.id == dataset.get_data_info(index)['id'] and len(sample.id) == count
        visible = gt.keypoints[gt.keypoints_visible > 0]
        assert ((visible >= 0) & (visible <= 128)).all()
        assert (gt.labels == 0).all()
        persons += count
    assert persons > 0


def test_pose_keypoints_follow_the_resize(build_task_dataset):
    small = build_task_dataset(
        'pose',
        'val',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadMultimodalAnnotations', with_keypoints=True),
            dict(type='ResizeWithKeypoints', scale=(64, 64), keep_ratio=True),
            dict(type='PackMultimodalInputs')
        ])
    full = build_task_dataset('pose', 'val')
    for index in range(len(full)):
        big, half = full[index]['data_samples'], small[index]['data_samples']
        assert half.img_shape == (64, 64) and half.scale_factor == (0.5, 0.5)
        assert torch.allclose(half.gt_instances.keypoints * 2, big.gt_instances.keypoints)
        assert torch.allclose(half.gt_instances.bboxes * 2, big.gt_instances.bboxes)


def test_text_task_metainfo(build_task_dataset):
    vqa = build_task_dataset('vqa', 'val')[0]['data_samples']
    assert len(vqa.gt_answers) == 10 and human_and_answer(vqa)[1] == vqa.gt_answers[0]
    assert isinstance(vqa.question_id, int)
    assert human_and_answer(vqa)[0].endswith('\nAnswer the question using a single word or phrase.')
    caption_val = build_task_dataset('caption', 'val')
    caption_train = build_task_dataset('caption', 'train')
    assert len(caption_val) == 6 and len(caption_train) == 36
    sample = caption_val[0]['data_samples']
    assert len(sample.gt_captions) == 3 and human_and_answer(sample)[1] == sample.gt_captions[0]
    region = build_task_dataset('region', 'val')
    for index in range(len(region)):
        sample = region[index]['data_samples']
        question, answer = human_and_answer(sample)
        assert question.count('<region>') == len(sample.regions) == 1
        mask = sample.regions[0]
        assert mask.dtype == bool and mask.shape == (128, 128) and mask.any()


def test_multitask_dataset_keeps_every_task_metainfo(build_task_dataset):
    datasets = [build_task_dataset(task, 'val') for task in TASKS]
    multi = MultiTaskDataset(datasets)
    assert len(multi) == sum(len(d) for d in datasets)
    assert multi.tasks == list(TASKS)
    meta = multi.metainfo
    assert meta['task_metainfo']['det']['classes'] == CATEGORY_NAMES
    assert meta['task_metainfo']['pose']['num_keypoints'] == len(KEYPOINT_NAMES)
    assert meta['classes'] == CATEGORY_NAMES and 'sigmas' in meta
    start = 0
    for task, dataset in zip(TASKS, datasets):
        assert multi.get_task(start) == task and multi.get_task(start + len(dataset) - 1) == task
        assert multi[start]['data_samples'].task == task
        start += len(dataset)
    with pytest.raises(IndexError):
        multi.get_task(len(multi))


def test_multitask_dataset_overrides_a_transform_of_every_pipeline(shapesworld_root):
    """transform_overrides reaches the inherited pipelines (here: one CLIP tile, no thumbnail+4)."""
    configs = []
    for task in ('det', 'vqa'):
        cfg = copy.deepcopy(task_config(task).val_dataloader.dataset)
        cfg.data_root = str(shapesworld_root) + '/'
        configs.append(cfg)
    multi = MultiTaskDataset(
        configs,
        transform_overrides=dict(DynamicTiling=dict(max_tiles=1)),
        max_samples=dict(det=2, vqa=2))
    assert len(multi) == 4
    for idx in range(len(multi)):
        assert multi[idx]['inputs']['clip'].shape == (1, 3, 64, 64)
    # the configs given are not modified
    assert all(
        t.get('max_tiles', 4) == 4 for c in configs for t in c.pipeline
        if t['type'] == 'DynamicTiling')
