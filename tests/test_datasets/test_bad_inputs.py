"""Bad input gives a clear error naming the file/sample, or the documented handling."""
import json
import shutil

import pytest

from mmvisionllm.datasets import AnnotationError, DatasetSampleError
from mmvisionllm.registry import DATASETS
from .conftest import load_json, task_config


def dataset_cfg(config_task, root, split='val', **overrides):
    """The ``split`` dataset config of a task's config, reading ``root``."""
    cfg_file = task_config(config_task)
    loader = cfg_file.val_dataloader if split == 'val' else cfg_file.train_dataloader
    cfg = loader.dataset.copy()
    cfg.data_root = str(root) + '/'
    cfg.update(overrides)
    return cfg


@pytest.fixture
def broken_root(shapesworld_root, tmp_path):
    """A private copy of the small set that a test may damage."""
    root = tmp_path / 'broken'
    shutil.copytree(shapesworld_root, root)
    return root


def write_json(path, content):
    with open(path, 'w') as f:
        json.dump(content, f)


@pytest.mark.parametrize('task', ['det', 'vqa', 'region', 'edit'])
def test_missing_image_file_names_the_sample(broken_root, task):
    dataset = DATASETS.build(dataset_cfg(task, broken_root))
    data_info = dataset.get_data_info(0)
    (broken_root / 'images' / 'val' / data_info['img_path'].split('/')[-1]).unlink()
    with pytest.raises(DatasetSampleError) as error:
        dataset[0]
    message = str(error.value)
    assert 'sample 0' in message and data_info['img_path'] in message
    assert 'FileNotFoundError' in message and type(dataset).__name__ in message


def test_missing_target_image_names_the_file(broken_root):
    dataset = DATASETS.build(dataset_cfg('gen', broken_root))
    target = dataset.get_data_info(0)['target_img_path']
    (broken_root / 'images' / target.split('/images/')[-1]).unlink()
    with pytest.raises(DatasetSampleError, match=target.split('/')[-1]):
        dataset[0]


@pytest.mark.parametrize('task, ann_file', [('det', 'instances_val.json'),
                                            ('pose', 'person_keypoints_val.json'),
                                            ('grd', 'refexp_val.json'),
                                            ('caption', 'captions_val.json')])
def test_annotation_of_a_missing_image_is_an_error(broken_root, task, ann_file):
    path = broken_root / 'annotations' / ann_file
    content = load_json(path)
    content['annotations'][0]['image_id'] = 987654
    write_json(path, content)
    with pytest.raises(
            AnnotationError, match=r'image_id=987654, which is not in "images"') as error:
        DATASETS.build(dataset_cfg(task, broken_root))
    assert ann_file in str(error.value)


def test_vqa_answer_of_an_unknown_question_is_an_error(broken_root):
    path = broken_root / 'annotations' / 'vqa_val_annotations.json'
    content = load_json(path)
    content['annotations'][0]['question_id'] = 987654
    write_json(path, content)
    with pytest.raises(AnnotationError, match='987654'):
        DATASETS.build(dataset_cfg('vqa', broken_root))


def test_malformed_conversation_json(broken_root):
    path = broken_root / 'annotations' / 'region_val.json'
    good = load_json(path)
    path.write_text(json.dumps(good)[:-5])
    with pytest.raises(AnnotationError, match='region_val.json is not valid JSON'):
        DATASETS.build(dataset_cfg('region', broken_root))
    cases = [
        ({
            'conversations': 'hello'
        }, 'non-empty list of turns'),
        ({
            'conversations': [{
                'from': 'gpt',
                'value': 'a'
            }]
        }, "expected from='human'"),
        ({
            'conversations': [{
                'from': 'human'
            }]
        }, r"missing key\(s\) \['value'\]"),
        ({
            'conversations': [{
                'from': 'human',
                'value': 'What is <region>?'
            }, {
                'from': 'gpt',
                'value': 'a'
            }]
        }, 'exactly one <image>'),
        ({
            'conversations': [{
                'from': 'human',
                'value': '<image>\nWhat?'
            }, {
                'from': 'gpt',
                'value': 'a'
            }]
        }, r'0 <region> placeholder\(s\) but 1'),
        ({
            'regions': [{
                'type': 'mask',
                'bbox': [1, 1, 2, 2]
            }]
        }, 'needs a "segmentation"'),
        ({
            'regions': []
        }, 'needs at least one region prompt'),
    ]
    for change, message in cases:
        entries = json.loads(json.dumps(good))
        entries[1].update(change)
        write_json(path, entries)
        with pytest.raises(AnnotationError, match=message) as error:
            DATASETS.build(dataset_cfg('region', broken_root))
        assert 'region_val.json: entry 1' in str(error.value)
    write_json(path, {'not': 'a list'})
    with pytest.raises(AnnotationError, match='expected a JSON list'):
        DATASETS.build(dataset_cfg('region', broken_root))


def test_image_without_annotations(broken_root):
    """Detection/pose keep it as a negative sample; captioning and grounding refuse it."""
    path = broken_root / 'annotations' / 'instances_val.json'
    content = load_json(path)
    emptied = content['images'][0]['id']
    content['annotations'] = [a for a in content['annotations'] if a['image_id'] != emptied]
    write_json(path, content)
    for test_mode in (True, False):
        dataset = DATASETS.build(dataset_cfg('det', broken_root, test_mode=test_mode))
        index = [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))].index(emptied)
        sample = dataset[index]['data_samples']
        assert len(sample.gt_instances.bboxes) == 0
        assert sample.conversation[1]['value'].count('[DET]') == 6
    filtered = DATASETS.build(
        dataset_cfg('det', broken_root, test_mode=False, filter_cfg=dict(filter_empty_gt=True)))
    assert emptied not in [filtered.get_data_info(i)['img_id'] for i in range(len(filtered))]

    captions = broken_root / 'annotations' / 'captions_val.json'
    content = load_json(captions)
    content['annotations'] = [a for a in content['annotations'] if a['image_id'] != emptied]
    write_json(captions, content)
    with pytest.raises(AnnotationError, match=f'image id={emptied} .* has no caption'):
        DATASETS.build(dataset_cfg('caption', broken_root))

    refexp = broken_root / 'annotations' / 'refexp_val.json'
    content = load_json(refexp)
    content['annotations'] = content['annotations'][1:]
    write_json(refexp, content)
    with pytest.raises(AnnotationError, match='has 0 annotations; a referring expression needs'):
        DATASETS.build(dataset_cfg('grd', broken_root))


def test_configured_class_missing_from_the_file(broken_root):
    with pytest.raises(AnnotationError, match=r"configured classes \['zebra'\]"):
        DATASETS.build(dataset_cfg('det', broken_root, metainfo=dict(classes=('circle', 'zebra'))))


def test_subset_of_classes_reports_what_it_leaves_out(shapesworld_root):
    dataset = DATASETS.build(
        dataset_cfg('det', shapesworld_root, metainfo=dict(classes=('star', ))))
    assert dataset.num_skipped_annotations > 0
    full = DATASETS.build(dataset_cfg('det', shapesworld_root))
    assert full.num_skipped_annotations == 0
    sample = dataset[0]['data_samples']
    assert sample.target_names == ['star']


def test_unknown_task_is_refused(shapesworld_root):
    with pytest.raises(ValueError, match="supports tasks \\('det', 'seg'\\)"):
        DATASETS.build(dataset_cfg('det', shapesworld_root, task='pose'))


def test_template_index_out_of_range(shapesworld_root):
    dataset = DATASETS.build(dataset_cfg('caption', shapesworld_root, template_index=99))
    with pytest.raises(DatasetSampleError, match='template_index 99 is out of range'):
        dataset[0]


def test_repeated_annotation_id_is_an_error(broken_root):
    """pycocotools keeps only the last annotation of an id: an image would get another's box."""
    path = broken_root / 'annotations' / 'instances_val.json'
    content = load_json(path)
    first, other = content['annotations'][0], next(
        a for a in content['annotations'] if a['image_id'] != content['annotations'][0]['image_id'])
    other['id'] = first['id']
    write_json(path, content)
    with pytest.raises(AnnotationError, match=f'id={first["id"]} is used more than once'):
        DATASETS.build(dataset_cfg('det', broken_root))


@pytest.mark.parametrize('bbox, problem', [([500, 500, 20, 20], 'outside the image'),
                                           ([10, 10, 0, 20], 'degenerate box'),
                                           ([10, 10, 20], 'not 4 numbers')])
def test_unusable_grounding_box_is_an_error(broken_root, bbox, problem):
    path = broken_root / 'annotations' / 'refexp_val.json'
    content = load_json(path)
    content['annotations'][0]['bbox'] = bbox
    write_json(path, content)
    with pytest.raises(AnnotationError, match=problem) as error:
        DATASETS.build(dataset_cfg('grd', broken_root))
    assert 'refexp_val.json' in str(error.value) and 'expression id=' in str(error.value)


@pytest.mark.parametrize('file_name, key, message', [
    ('vqa_val_annotations.json', 'annotations', 'more than one answer record'),
    ('vqa_val_questions.json', 'questions', 'is used more than once'),
])
def test_repeated_vqa_question_or_answer_is_an_error(broken_root, file_name, key, message):
    """A second record of a question id (the last one used to win)."""
    path = broken_root / 'annotations' / file_name
    records = load_json(path)
    records[key].append(records[key][0])
    write_json(path, records)
    with pytest.raises(AnnotationError, match=message):
        DATASETS.build(dataset_cfg('vqa', broken_root))


def test_region_prompt_outside_the_image_names_the_sample(broken_root):
    path = broken_root / 'annotations' / 'region_val.json'
    content = load_json(path)
    content[0]['regions'][0] = dict(type='box', bbox=[300.0, 300.0, 20.0, 20.0])
    write_json(path, content)
    dataset = DATASETS.build(dataset_cfg('region', broken_root))
    with pytest.raises(DatasetSampleError, match='sample 0') as error:
        dataset[0]
    assert 'covers no pixel' in str(error.value)
