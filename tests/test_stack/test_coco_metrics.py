"""mmdet's and mmpose's CocoMetric give AP = 1 for perfect predictions on a tiny COCO file, less for
shifted ones."""
import json

import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric as DetCocoMetric
from mmpose.evaluation import CocoMetric as PoseCocoMetric

NUM_KPTS = 4
BOXES = {  # image id -> [(category id, x, y, w, h)]
    1: [(1, 10, 10, 30, 30), (2, 50, 50, 40, 20)],
    2: [(1, 5, 60, 25, 25), (1, 60, 5, 30, 35)],
}


def write_coco(path, with_keypoints: bool) -> None:
    images = [dict(id=i, file_name=f'{i}.png', width=100, height=100) for i in BOXES]
    categories = [dict(id=1, name='a'), dict(id=2, name='b')]
    if with_keypoints:
        categories = [
            dict(
                id=1,
                name='person',
                keypoints=[f'k{i}' for i in range(NUM_KPTS)],
                skeleton=[[1, 2], [2, 3], [3, 4]])
        ]
    annotations = []
    for img_id, boxes in BOXES.items():
        for cat, x, y, w, h in boxes:
            ann = dict(
                id=len(annotations) + 1,
                image_id=img_id,
                category_id=cat,
                bbox=[x, y, w, h],
                area=w * h,
                iscrowd=0)
            if with_keypoints:
                ann.update(
                    category_id=1,
                    keypoints=keypoints_of(x, y, w, h).tolist(),
                    num_keypoints=NUM_KPTS)
            annotations.append(ann)
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)


def keypoints_of(x, y, w, h) -> np.ndarray:
    """Four visible keypoints at the box corners, COCO layout [x1, y1, v1, ...]."""
    pts = [(x + 2, y + 2), (x + w - 2, y + 2), (x + w - 2, y + h - 2), (x + 2, y + h - 2)]
    return np.array([[px, py, 2] for px, py in pts], dtype=np.float32).flatten()


def det_predictions(shift: float) -> list:
    samples = []
    for img_id, boxes in BOXES.items():
        xyxy = torch.tensor([[x + shift, y + shift, x + w + shift, y + h + shift]
                             for _, x, y, w, h in boxes])
        samples.append(
            dict(
                img_id=img_id,
                ori_shape=(100, 100),
                pred_instances=dict(
                    bboxes=xyxy,
                    scores=torch.ones(len(boxes)),
                    labels=torch.tensor([c - 1 for c, *_ in boxes]))))
    return samples


@pytest.mark.parametrize('shift,expect_perfect', [(0., True), (8., False)])
def test_mmdet_coco_metric(tmp_path, shift, expect_perfect):
    ann_file = tmp_path / 'instances.json'
    write_coco(ann_file, with_keypoints=False)
    metric = DetCocoMetric(ann_file=str(ann_file), metric='bbox')
    metric.dataset_meta = dict(classes=('a', 'b'))
    metric.process({}, det_predictions(shift))
    ap = metric.evaluate(size=len(BOXES))['coco/bbox_mAP']
    if expect_perfect:
        assert ap == pytest.approx(1.0)
    else:
        assert 0 <= ap < 0.6


def pose_predictions(shift: float) -> list:
    samples = []
    for img_id, boxes in BOXES.items():
        kpts = np.stack(
            [keypoints_of(x, y, w, h).reshape(-1, 3)[:, :2] + shift for _, x, y, w, h in boxes])
        xyxy = np.array([[x, y, x + w, y + h] for _, x, y, w, h in boxes], dtype=np.float32)
        # several persons per image (bottom-up style): 'id' must be a sequence, otherwise mmpose
        # de-duplicates the instances of one sample as if they were one top-down prediction
        samples.append(
            dict(
                id=[img_id * 10 + i for i in range(len(boxes))],
                img_id=img_id,
                ori_shape=(100, 100),
                gt_instances=dict(),
                pred_instances=dict(
                    keypoints=kpts,
                    keypoint_scores=np.ones(kpts.shape[:2]),
                    bboxes=xyxy,
                    bbox_scores=np.ones(len(boxes)))))
    return samples


@pytest.mark.parametrize('shift,expect_perfect', [(0., True), (4., False)])
def test_mmpose_coco_metric(tmp_path, shift, expect_perfect):
    ann_file = tmp_path / 'person_keypoints.json'
    write_coco(ann_file, with_keypoints=True)
    metric = PoseCocoMetric(ann_file=str(ann_file), outfile_prefix=str(tmp_path / 'pose'))
    metric.dataset_meta = dict(
        dataset_name='tiny',
        num_keypoints=NUM_KPTS,
        sigmas=np.full(NUM_KPTS, 0.05, dtype=np.float32))
    metric.process({}, pose_predictions(shift))
    ap = metric.evaluate(size=len(BOXES))['coco/AP']
    if expect_perfect:
        assert ap == pytest.approx(1.0)
    else:
        assert 0 <= ap < 0.6
