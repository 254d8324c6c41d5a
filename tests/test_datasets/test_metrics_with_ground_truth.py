"""mmdet/mmpose metrics score the generated ground truth as perfect and perturbed predictions lower.

The metrics are built directly on the generated files and fed data-sample dicts as mmengine's
``Evaluator`` would (``metric.process(data_batch, [sample.to_dict() ...])`` then ``evaluate``).
"""
import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric, RefExpMetric
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation import CocoMetric as PoseCocoMetric
from pycocotools.coco import COCO

from mmvisionllm.datasets.shapesworld.world_spec import CATEGORY_NAMES
from .conftest import DATASET_CONFIG_DIR


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """[n, 4] xywh → xyxy."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def instance_predictions(coco: COCO, shift: float) -> list:
    """Per image: the gt instances as predictions, boxes and masks moved right by ``shift`` px."""
    cat_ids = coco.getCatIds(catNms=list(CATEGORY_NAMES))
    label_of = {cat_id: CATEGORY_NAMES.index(coco.cats[cat_id]['name']) for cat_id in cat_ids}
    samples = []
    for img_id, img in coco.imgs.items():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        masks = np.stack([coco.annToMask(a) for a in anns]).astype(bool) if anns else np.zeros(
            (0, img['height'], img['width']), dtype=bool)
        boxes = xywh_to_xyxy([a['bbox'] for a in anns])
        if shift:
            boxes[:, [0, 2]] += shift
            masks = np.roll(masks, int(shift), axis=2)
        samples.append({
            'img_id': img_id,
            'ori_shape': (img['height'], img['width']),
            'pred_instances': {
                'bboxes': torch.from_numpy(boxes),
                'scores': torch.ones(len(anns)),
                'labels': torch.tensor([label_of[a['category_id']] for a in anns]),
                'masks': torch.from_numpy(masks),
            },
        })
    return samples


@pytest.mark.parametrize('shift, perfect', [(0, True), (4, False)])
def test_mmdet_coco_metric(shapesworld_root, shift, perfect):
    ann_file = str(shapesworld_root / 'annotations' / 'instances_val.json')
    metric = CocoMetric(ann_file=ann_file, metric=['bbox', 'segm'])
    metric.dataset_meta = {'classes': CATEGORY_NAMES}
    samples = instance_predictions(COCO(ann_file), shift)
    metric.process({}, samples)
    results = metric.evaluate(len(samples))
    if perfect:
        assert results['coco/bbox_mAP'] == pytest.approx(1.0)
        assert results['coco/segm_mAP'] == pytest.approx(1.0)
    else:
        assert results['coco/bbox_mAP'] < 0.9
        assert results['coco/segm_mAP'] < 0.9


@pytest.mark.parametrize('shift, perfect', [(0, True), (30, False)])
def test_mmdet_refexp_metric(shapesworld_root, shift, perfect):
    ann_file = str(shapesworld_root / 'annotations' / 'refexp_val.json')
    metric = RefExpMetric(ann_file=ann_file, metric='bbox', topk=(1, 5, 10))
    coco = COCO(ann_file)
    samples = []
    for expression_id in coco.imgs:
        box = xywh_to_xyxy(coco.loadAnns(coco.getAnnIds(imgIds=expression_id))[0]['bbox'])
        box[:, [0, 2]] += shift
        samples.append({
            'img_id': expression_id,
            'pred_instances': {
                'bboxes': torch.from_numpy(box),
                'scores': torch.ones(1)
            }
        })
    metric.process({}, samples)
    results = metric.evaluate(len(samples))
    if perfect:
        assert results['refexp/refcoco_precision@1'] == pytest.approx(1.0)
    else:
        assert results['refexp/refcoco_precision@1'] < 0.5


@pytest.mark.parametrize('noise, perfect', [(0.0, True), (3.0, False)])
def test_mmpose_coco_metric(shapesworld_root, noise, perfect):
    ann_file = str(shapesworld_root / 'annotations' / 'person_keypoints_val.json')
    metric = PoseCocoMetric(ann_file=ann_file)
    metric.dataset_meta = parse_pose_metainfo(
        {'from_file': str(DATASET_CONFIG_DIR / 'shapesworld_keypoint_info.py')})
    coco = COCO(ann_file)
    rng = np.random.default_rng(0)
    samples = []
    for img_id in coco.imgs:
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        if not anns:
            continue
        keypoints = np.stack(
            [np.asarray(a['keypoints'], np.float32).reshape(-1, 3)[:, :2] for a in anns])
        keypoints = keypoints + rng.normal(0, noise, keypoints.shape).astype(np.float32)
        samples.append({
            'id': [a['id'] for a in anns],
            'img_id': img_id,
            'category_id': 1,
            'gt_instances': {},
            'pred_instances': {
                'keypoints': keypoints,
                'keypoint_scores': np.ones(keypoints.shape[:2], np.float32),
                'bboxes': xywh_to_xyxy([a['bbox'] for a in anns]),
                'bbox_scores': np.ones(len(anns), np.float32),
            },
        })
    assert samples, 'the small set must contain stick figures in val'
    metric.process({}, samples)
    results = metric.evaluate(len(samples))
    if perfect:
        assert results['coco/AP'] == pytest.approx(1.0)
    else:
        assert results['coco/AP'] < 0.9
