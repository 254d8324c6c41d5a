"""Every ShapesWorld annotation file loads with the standard tools and follows its format."""
import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from xtcocotools.coco import COCO as XtCOCO

from mmvisionllm.datasets.shapesworld.world_spec import CATEGORY_NAMES, KEYPOINT_NAMES
from .conftest import load_json

SPLITS = ('train', 'val')


@pytest.mark.parametrize('split', SPLITS)
def test_instances_load_with_pycocotools(shapesworld_root, split):
    coco = COCO(str(shapesworld_root / 'annotations' / f'instances_{split}.json'))
    assert [coco.cats[i]['name'] for i in sorted(coco.cats)] == list(CATEGORY_NAMES)
    assert coco.cats[1]['name'] == 'person'
    assert len(coco.imgs) == {'train': 12, 'val': 6}[split]
    assert min(coco.anns) >= 1, 'COCOeval treats annotation id 0 as unmatched'
    for ann in coco.anns.values():
        mask = coco.annToMask(ann)
        x, y, w, h = ann['bbox']
        ys, xs = np.nonzero(mask)
        assert ann['area'] == mask.sum() > 0
        assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                ys.max() - ys.min() + 1)
        assert 0 <= x and x + w <= 128 and 0 <= y and y + h <= 128
        assert ann['iscrowd'] == 0


@pytest.mark.parametrize('split', SPLITS)
def test_keypoints_load_with_xtcocotools(shapesworld_root, split):
    coco = XtCOCO(str(shapesworld_root / 'annotations' / f'person_keypoints_{split}.json'))
    category = coco.loadCats(1)[0]
    assert category['keypoints'] == list(KEYPOINT_NAMES)
    assert all(1 <= a <= len(KEYPOINT_NAMES) for link in category['skeleton'] for a in link)
    instances = COCO(str(shapesworld_root / 'annotations' / f'instances_{split}.json'))
    assert len(coco.imgs) == len(instances.imgs)
    persons = instances.getAnnIds(catIds=[1])
    assert sorted(coco.anns) == sorted(persons)
    for ann in coco.anns.values():
        keypoints = np.asarray(ann['keypoints']).reshape(-1, 3)
        assert keypoints.shape == (len(KEYPOINT_NAMES), 3)
        assert set(keypoints[:, 2]) <= {1, 2} and ann['num_keypoints'] == len(KEYPOINT_NAMES)
        x, y, w, h = ann['bbox']
        visible = keypoints[keypoints[:, 2] == 2, :2]
        assert len(visible) > 0
        assert (visible[:, 0] >= x).all() and (visible[:, 0] <= x + w).all()
        assert (visible[:, 1] >= y).all() and (visible[:, 1] <= y + h).all()
        assert ann['area'] == pytest.approx(w * h)
        # A visible keypoint lies on the figure's own visible pixels.
        mask = instances.annToMask(instances.anns[ann['id']])
        cols, rows = np.floor(visible).astype(int).T
        assert mask[rows, cols].all()


@pytest.mark.parametrize('split', SPLITS)
def test_refexp_is_mdetr_style(shapesworld_root, split):
    path = shapesworld_root / 'annotations' / f'refexp_{split}.json'
    coco = COCO(str(path))
    instances = COCO(str(shapesworld_root / 'annotations' / f'instances_{split}.json'))
    assert len(coco.imgs) > 0
    captions_per_scene = {}
    for expression_id, entry in coco.imgs.items():
        assert entry['dataset_name'] == 'refcoco'
        assert entry['caption'].startswith('the ')
        ann_ids = coco.getAnnIds(imgIds=expression_id)
        assert len(ann_ids) == 1, 'RefExpMetric asserts one box per expression'
        ann = coco.anns[ann_ids[0]]
        source = instances.anns[ann['original_id']]
        assert ann['bbox'] == source['bbox'] and source['image_id'] == entry['original_id']
        assert ann['tokens_positive'] == [[0, len(entry['caption'])]]
        captions_per_scene.setdefault(entry['original_id'], []).append(entry['caption'])
    for captions in captions_per_scene.values():
        assert len(captions) == len(set(captions)), 'two objects got the same expression'


@pytest.mark.parametrize('split', SPLITS)
def test_vqa_follows_vqav2(shapesworld_root, split):
    ann_dir = shapesworld_root / 'annotations'
    questions = load_json(ann_dir / f'vqa_{split}_questions.json')
    answers = load_json(ann_dir / f'vqa_{split}_annotations.json')
    assert questions['task_type'] == 'Open-Ended' and questions['data_subtype'] == split
    assert [q['question_id']
            for q in questions['questions']] == [a['question_id'] for a in answers['annotations']]
    types = set()
    for question, answer in zip(questions['questions'], answers['annotations']):
        assert question['image_id'] == answer['image_id']
        assert question['question'].endswith('?')
        assert [a['answer_id'] for a in answer['answers']] == list(range(1, 11))
        assert answer['answer_type'] in ('yes/no', 'number', 'other')
        if answer['answer_type'] == 'yes/no':
            assert answer['multiple_choice_answer'] in ('yes', 'no')
        if answer['answer_type'] == 'number':
            assert answer['multiple_choice_answer'].isdigit()
        types.add(answer['question_type'])
    assert {'how many', 'is there a', 'what color is the'} <= types


@pytest.mark.parametrize('split', SPLITS)
def test_captions_load_with_pycocotools(shapesworld_root, split):
    coco = COCO(str(shapesworld_root / 'annotations' / f'captions_{split}.json'))
    for img_id in coco.imgs:
        captions = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert len(captions) == 3 and all(c['caption'].endswith('.') for c in captions)


@pytest.mark.parametrize('split', SPLITS)
def test_region_conversations(shapesworld_root, split):
    entries = load_json(shapesworld_root / 'annotations' / f'region_{split}.json')
    for entry in entries:
        human, gpt = entry['conversations']
        assert human['from'] == 'human' and human['value'].startswith('<image>\n')
        assert human['value'].count('<region>') == len(entry['regions']) == 1
        assert gpt['from'] == 'gpt' and gpt['value'].startswith('a ')
        region = entry['regions'][0]
        assert region['type'] in ('box', 'mask')
        if region['type'] == 'mask':
            mask = mask_utils.decode(region['segmentation'])
            assert list(mask_utils.toBbox(region['segmentation'])) == region['bbox']
            assert mask.shape == (128, 128)
        assert (shapesworld_root / 'images' / entry['image']).is_file()


@pytest.mark.parametrize('split', SPLITS)
def test_t2i_pairs_are_simple_scenes(shapesworld_root, split):
    pairs = load_json(shapesworld_root / 'annotations' / f't2i_{split}.json')
    instances = COCO(str(shapesworld_root / 'annotations' / f'instances_{split}.json'))
    for pair in pairs:
        assert set(pair) >= {'image', 'caption'}
        anns = instances.loadAnns(instances.getAnnIds(imgIds=pair['image_id']))
        assert 1 <= len(anns) <= 2 and all(a['category_id'] != 1 for a in anns)
        assert pair['caption'].startswith('a ')
        assert pair['image'] == f'{split}/{pair["image_id"]:06d}.png'


@pytest.mark.parametrize('split', SPLITS)
def test_edit_targets_differ_from_sources(shapesworld_root, split):
    edits = load_json(shapesworld_root / 'annotations' / f'edit_{split}.json')
    for edit in edits:
        assert edit['operation'] in ('recolour', 'remove')
        source = cv2.imread(str(shapesworld_root / 'images' / edit['source']))
        target = cv2.imread(str(shapesworld_root / 'images' / edit['target']))
        assert source.shape == target.shape
        changed = (source != target).any(axis=2)
        assert 0 < changed.mean() < 0.5, edit['instruction']
