"""ODVG export (tools/dataset_converters/to_odvg.py): what mmdet's ODVGDataset reads back is what
the COCO instances / MDETR-style referring expressions of a generated ShapesWorld hold, and a
malformed record is an error naming the file and the record."""
import copy
import json
import sys

import pytest
from mmdet.datasets import ODVGDataset
from tool_loader import load_tool

from mmvisionllm.datasets import AnnotationError
from mmvisionllm.datasets.odvg_export import (coco_to_odvg, export_coco_odvg, export_refexp_odvg,
                                              refexp_to_odvg)
from .conftest import load_json


def xyxy(bbox):
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


def read_back(root, tmp_path, jsonl, **kwargs):
    return ODVGDataset(
        data_root=str(tmp_path),
        ann_file=jsonl,
        data_prefix=dict(img=str(root / 'images' / 'train') + '/'),
        return_classes=True,
        pipeline=[],
        **kwargs)


def test_detection_round_trip(shapesworld_root, tmp_path):
    ann_file = shapesworld_root / 'annotations' / 'instances_train.json'
    coco = load_json(ann_file)
    summary = export_coco_odvg(
        str(ann_file), str(tmp_path / 'od.jsonl'), str(tmp_path / 'label_map.json'))
    assert summary == dict(
        records=len(coco['images']), instances=len(coco['annotations']), skipped_crowd=0)
    label_map = load_json(tmp_path / 'label_map.json')
    names = [category['name'] for category in coco['categories']]
    assert label_map == {str(i): name for i, name in enumerate(names)}
    dataset = read_back(shapesworld_root, tmp_path, 'od.jsonl', label_map_file='label_map.json')
    assert len(dataset) == len(coco['images'])
    label_of = {category['id']: i for i, category in enumerate(coco['categories'])}
    for index, image in enumerate(coco['images']):
        info = dataset.get_data_info(index)
        anns = [ann for ann in coco['annotations'] if ann['image_id'] == image['id']]
        assert info['img_path'].endswith('/images/train/' + image['file_name'])
        assert (info['height'], info['width']) == (image['height'], image['width'])
        assert info['text'] == label_map and info['dataset_mode'] == 'OD'
        assert [i['bbox'] for i in info['instances']] == [xyxy(a['bbox']) for a in anns]
        assert [i['bbox_label'] for i in info['instances']] == \
            [label_of[a['category_id']] for a in anns]


def test_grounding_round_trip(shapesworld_root, tmp_path):
    ann_file = shapesworld_root / 'annotations' / 'refexp_train.json'
    refexp = load_json(ann_file)
    summary = export_refexp_odvg(str(ann_file), str(tmp_path / 'vg.jsonl'))
    assert summary == dict(records=len(refexp['images']), regions=len(refexp['annotations']))
    dataset = read_back(shapesworld_root, tmp_path, 'vg.jsonl')
    assert len(dataset) == len(refexp['images']) > 0
    for index, entry in enumerate(refexp['images']):
        info = dataset.get_data_info(index)
        (ann, ) = [a for a in refexp['annotations'] if a['image_id'] == entry['id']]
        assert info['img_path'].endswith('/images/train/' + entry['file_name'])
        assert info['text'] == entry['caption'] and info['dataset_mode'] == 'VG'
        assert [i['bbox'] for i in info['instances']] == [xyxy(ann['bbox'])]
        [(start, end)] = ann['tokens_positive']
        assert info['phrases'] == {
            0: dict(phrase=entry['caption'][start:end], tokens_positive=[[start, end]])
        }


def test_tool_writes_both_formats(shapesworld_root, tmp_path, monkeypatch, capsys):
    tool = load_tool('dataset_converters/to_odvg.py')
    annotations = shapesworld_root / 'annotations'
    runs = [('od', 'instances_train.json', 'od.jsonl'), ('vg', 'refexp_train.json', 'vg.jsonl')]
    for mode, src, dst in runs:
        monkeypatch.setattr(
            sys, 'argv',
            ['to_odvg.py', mode, str(annotations / src),
             str(tmp_path / dst)])
        tool.main()
    out = capsys.readouterr().out
    assert 'od.jsonl' in out and 'vg.jsonl' in out
    label_map = load_json(tmp_path / 'od_label_map.json')  # the default next to the jsonl
    assert label_map['0'] == 'person'
    first = json.loads((tmp_path / 'vg.jsonl').read_text().splitlines()[0])
    assert set(first) == {'filename', 'height', 'width', 'grounding'}


def _write(tmp_path, content) -> str:
    path = tmp_path / 'broken.json'
    path.write_text(json.dumps(content))
    return str(path)


def _first_annotation(data) -> dict:
    """The annotation of the first expression (the record the errors must name)."""
    return next(a for a in data['annotations'] if a['image_id'] == data['images'][0]['id'])


def _break_span(data):
    _first_annotation(data)['tokens_positive'] = [[0, len(data['images'][0]['caption']) + 3]]


def _drop_annotation(data):
    data['annotations'] = [
        a for a in data['annotations'] if a['image_id'] != data['images'][0]['id']
    ]


def _flat_box(data):
    _first_annotation(data)['bbox'][2] = 0


def _padded_caption(data):
    data['images'][0]['caption'] = ' ' + data['images'][0]['caption']


@pytest.mark.parametrize(
    'corrupt, message',
    [(_break_span, r'span \[0, \d+\] of "tokens_positive" is not a \[start, end\) range'),
     (_drop_annotation, 'has no annotation: nothing to ground'),
     (_flat_box, r'box .* is unusable \(degenerate box\)'),
     (_padded_caption, 'leading or trailing white space')])
def test_malformed_refexp_record_is_a_clear_error(shapesworld_root, tmp_path, corrupt, message):
    data = load_json(shapesworld_root / 'annotations' / 'refexp_train.json')
    corrupt(data)
    path = _write(tmp_path, data)
    with pytest.raises(AnnotationError, match=message) as error:
        refexp_to_odvg(path)
    assert f'{path}: expression id={data["images"][0]["id"]}' in str(error.value)


def test_crowd_annotation_is_an_error_unless_skipped(shapesworld_root, tmp_path):
    data = load_json(shapesworld_root / 'annotations' / 'instances_train.json')
    crowded = copy.deepcopy(data)
    crowded['annotations'][0]['iscrowd'] = 1
    path = _write(tmp_path, crowded)
    ann_id = crowded['annotations'][0]['id']
    with pytest.raises(AnnotationError, match=f'annotation id={ann_id} is a crowd annotation'):
        coco_to_odvg(path)
    summary = export_coco_odvg(
        path, str(tmp_path / 'od.jsonl'), str(tmp_path / 'map.json'), skip_crowd=True)
    assert summary['skipped_crowd'] == 1
    assert summary['instances'] == len(data['annotations']) - 1
