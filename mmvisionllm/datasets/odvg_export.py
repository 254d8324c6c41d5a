"""Export COCO instances and MDETR-style referring expressions to ODVG, mmdet's grounding format.

ODVG (what ``mmdet.ODVGDataset`` reads, the format of mmdet's Grounding DINO training sets) is a
jsonl file of one image per line plus, for detection, a label map:

* OD: ``{"filename", "height", "width", "detection": {"instances": [{"bbox": [x1, y1, x2, y2],
  "label": int, "category": name}]}}`` with ``{"0": name, ...}`` in the label map json (labels
  contiguous in the order of the file's ``categories``);
* VG: ``{"filename", "height", "width", "grounding": {"caption", "regions": [{"bbox":
  [x1, y1, x2, y2], "phrase", "tokens_positive": [[start, end], ...]}]}}``, one line per
  expression of the MDETR-style file (``caption`` on the image entry, ``bbox`` (xywh) and
  ``tokens_positive`` (character spans of the caption) on its annotations).

``ODVGDataset`` silently skips boxes outside the image or with a side < 1 px; here every record is
checked first and a malformed one is an :class:`~mmvisionllm.datasets.AnnotationError` naming the
file and the record (:mod:`mmvisionllm.datasets.annotation_checks`), so nothing is dropped
unnoticed. Crowd annotations have no ODVG equivalent (no ignore flag): an error, or left out when
asked (``skip_crowd=True``; :func:`export_coco_odvg` reports how many).
"""
import json
import os
import os.path as osp
from collections import defaultdict
from typing import Any, Dict, List, Sequence, Tuple

from .annotation_checks import (AnnotationError, box_problem, check_coco_references, load_json_file,
                                require_keys)

__all__ = [
    'coco_to_odvg', 'refexp_to_odvg', 'write_jsonl', 'export_coco_odvg', 'export_refexp_odvg'
]


def _xyxy(bbox: Sequence[float]) -> List[float]:
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


def _annotations_by_image(dataset: Dict[str, Any]) -> Dict[Any, List[dict]]:
    by_image = defaultdict(list)
    for ann in dataset.get('annotations', []):
        by_image[ann['image_id']].append(ann)
    return by_image


def _image_header(image: Dict[str, Any], where: str) -> Dict[str, Any]:
    require_keys(image, ('file_name', 'height', 'width'), where)
    return dict(filename=image['file_name'], height=image['height'], width=image['width'])


def _checked_box(ann: Dict[str, Any], image: Dict[str, Any], where: str) -> List[float]:
    require_keys(ann, ('bbox', ), where)
    problem = box_problem(ann['bbox'], image['width'], image['height'], ann.get('area'))
    if problem is not None:
        raise AnnotationError(f'{where}: box {ann["bbox"]} is unusable ({problem})')
    return _xyxy(ann['bbox'])


def coco_to_odvg(ann_file: str, skip_crowd: bool = False) -> Tuple[List[dict], Dict[str, str]]:
    """ODVG OD records and label map of a COCO instances file.

    Args:
        ann_file (str): COCO instances json.
        skip_crowd (bool): Leave ``iscrowd=1`` annotations out instead of raising. Defaults to
            False.

    Returns:
        tuple[list[dict], dict[str, str]]: One record per image (in the file's order; an image
        without annotations has no instances) and the label map ``{"0": name, ...}``.

    Raises:
        AnnotationError: On a malformed file or record (dangling ids, bad box, crowd annotation).
    """
    dataset = load_json_file(ann_file)
    check_coco_references(dataset, ann_file)
    categories = dataset.get('categories') or []
    if not categories:
        raise AnnotationError(f'{ann_file}: "categories" is empty; ODVG detection needs the '
                              'class names of the label map')
    labels = {}
    for index, category in enumerate(categories):
        require_keys(category, ('id', 'name'), f'{ann_file}: category {index}')
        if category['id'] in labels:
            raise AnnotationError(f'{ann_file}: category id={category["id"]} is listed twice')
        labels[category['id']] = index
    label_map = {str(index): category['name'] for index, category in enumerate(categories)}
    by_image = _annotations_by_image(dataset)
    records = []
    for image in dataset['images']:
        where = f'{ann_file}: image id={image["id"]}'
        record = _image_header(image, where)
        instances = []
        for ann in by_image[image['id']]:
            ann_where = f'{where}, annotation id={ann.get("id")}'
            if ann.get('iscrowd', 0):
                if skip_crowd:
                    continue
                raise AnnotationError(f'{ann_where} is a crowd annotation, which ODVG cannot '
                                      'mark as ignored (pass skip_crowd=True to leave it out)')
            require_keys(ann, ('category_id', ), ann_where)
            if ann['category_id'] not in labels:
                raise AnnotationError(f'{ann_where}: category_id={ann["category_id"]} is not in '
                                      '"categories"')
            label = labels[ann['category_id']]
            instances.append(
                dict(
                    bbox=_checked_box(ann, image, ann_where),
                    label=label,
                    category=label_map[str(label)]))
        record['detection'] = dict(instances=instances)
        records.append(record)
    return records, label_map


def _checked_spans(spans: Any, caption: str, where: str) -> List[List[int]]:
    if not isinstance(spans, (list, tuple)) or not spans:
        raise AnnotationError(f'{where}: "tokens_positive" must be a non-empty list of [start, '
                              f'end] character spans, got {spans!r}')
    for span in spans:
        valid = (
            isinstance(span, (list, tuple)) and len(span) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in span))
        if not valid or not 0 <= span[0] < span[1] <= len(caption):
            raise AnnotationError(f'{where}: span {span!r} of "tokens_positive" is not a '
                                  f'[start, end) range of the {len(caption)}-character caption '
                                  f'{caption!r}')
    return [list(span) for span in spans]


def refexp_to_odvg(ann_file: str) -> List[dict]:
    """ODVG VG records of an MDETR-style referring-expression file (one per expression).

    Args:
        ann_file (str): MDETR-style json (e.g. ShapesWorld's ``refexp_train.json``).

    Returns:
        list[dict]: One record per expression entry, in the file's order; one region per
        annotation, its phrase the caption's text at ``tokens_positive`` (spans joined by a
        space).

    Raises:
        AnnotationError: On a malformed file or record: no caption, a caption with leading or
        trailing spaces (mmdet's ``RandomSamplingNegPos`` strips it, which would shift the
        spans), an expression without annotation, a bad box or span.
    """
    dataset = load_json_file(ann_file)
    check_coco_references(dataset, ann_file)
    by_image = _annotations_by_image(dataset)
    records = []
    for image in dataset['images']:
        where = f'{ann_file}: expression id={image["id"]}'
        record = _image_header(image, where)
        require_keys(image, ('caption', ), where)
        caption = image['caption']
        if not isinstance(caption, str) or not caption.strip():
            raise AnnotationError(f'{where}: "caption" must be a non-empty string, got '
                                  f'{caption!r}')
        if caption != caption.strip():
            raise AnnotationError(f'{where}: caption {caption!r} has leading or trailing '
                                  'white space; strip it and shift "tokens_positive"')
        anns = by_image[image['id']]
        if not anns:
            raise AnnotationError(f'{where} has no annotation: nothing to ground')
        regions = []
        for ann in anns:
            ann_where = f'{where}, annotation id={ann.get("id")}'
            require_keys(ann, ('tokens_positive', ), ann_where)
            spans = _checked_spans(ann['tokens_positive'], caption, ann_where)
            regions.append(
                dict(
                    bbox=_checked_box(ann, image, ann_where),
                    phrase=' '.join(caption[start:end] for start, end in spans),
                    tokens_positive=spans))
        record['grounding'] = dict(caption=caption, regions=regions)
        records.append(record)
    return records


def write_jsonl(records: Sequence[dict], path: str) -> None:
    """Write ``records`` one JSON object per line (directories created)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        for record in records:
            f.write(json.dumps(record) + '\n')


def export_coco_odvg(ann_file: str,
                     out_file: str,
                     label_map_file: str,
                     skip_crowd: bool = False) -> Dict[str, int]:
    """Write the ODVG OD jsonl and label map json of a COCO instances file.

    Returns:
        dict[str, int]: ``records`` (images), ``instances`` written and ``skipped_crowd`` (crowd
        annotations left out with ``skip_crowd=True``; every other annotation is written).
    """
    records, label_map = coco_to_odvg(ann_file, skip_crowd=skip_crowd)
    write_jsonl(records, out_file)
    os.makedirs(osp.dirname(osp.abspath(label_map_file)), exist_ok=True)
    with open(label_map_file, 'w') as f:
        json.dump(label_map, f, indent=1)
    instances = sum(len(record['detection']['instances']) for record in records)
    total = len(load_json_file(ann_file).get('annotations', []))
    return dict(records=len(records), instances=instances, skipped_crowd=total - instances)


def export_refexp_odvg(ann_file: str, out_file: str) -> Dict[str, int]:
    """Write the ODVG VG jsonl of an MDETR-style referring-expression file.

    Returns:
        dict[str, int]: ``records`` (expressions) and ``regions`` written.
    """
    records = refexp_to_odvg(ann_file)
    write_jsonl(records, out_file)
    regions = sum(len(record['grounding']['regions']) for record in records)
    return dict(records=len(records), regions=regions)
