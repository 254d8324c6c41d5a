"""Checks that turn silently inconsistent annotation files into clear errors.

pycocotools builds its index without complaining about annotations whose image or category does
not exist (mmdet's ``CocoDataset`` then simply never sees them); ``CheckedCOCO`` wraps mmdet's COCO
API wrapper and refuses such files, naming the file, the annotation and the missing id. The other
helpers validate the json-list formats (LLaVA conversations, text→image pairs, edit triplets).
"""
import json
from typing import Any, Dict, Iterable, Optional, Sequence

from mmdet.datasets.api_wrappers import COCO
from mmengine.fileio import get_text

__all__ = [
    'AnnotationError', 'CheckedCOCO', 'check_coco_references', 'require_keys', 'load_json_file',
    'load_json_list', 'check_conversation', 'box_problem', 'image_size_problem', 'MIN_IMAGE_SIDE'
]


class AnnotationError(ValueError):
    """An annotation file is malformed; the message names the file and the offending record."""


def check_coco_references(dataset: Dict[str, Any], source: str) -> None:
    """Check that every annotation points to an existing image (and category, if any are listed)
    and that annotation ids are unique (pycocotools keeps only the last annotation of an id, so a
    repeated id would silently give one image another image's object).

    Args:
        dataset (dict): A loaded COCO-format dict (``images``, ``annotations``, ``categories``).
        source (str): File name used in error messages.

    Raises:
        AnnotationError: On the first dangling reference.
    """
    if not isinstance(dataset, dict) or 'images' not in dataset:
        raise AnnotationError(f'{source}: a COCO-format file needs an "images" list')
    if not isinstance(dataset['images'], list) or not dataset['images']:
        raise AnnotationError(f'{source}: "images" is empty (or not a list); a COCO-format file '
                              'needs at least one image record')
    for img in dataset['images']:
        require_keys(img, ('id', ), f'{source}: image record')
        if 'width' in img or 'height' in img:
            problem = image_size_problem(img.get('width'), img.get('height'))
            if problem is not None:
                raise AnnotationError(f'{source}: image id={img["id"]} '
                                      f'({img.get("file_name")}): {problem}')
    image_ids = {img['id'] for img in dataset['images']}
    if len(image_ids) != len(dataset['images']):
        raise AnnotationError(f'{source}: image ids are not unique')
    category_ids = {cat['id'] for cat in dataset.get('categories', [])}
    seen_ids = set()
    for ann in dataset.get('annotations', []):
        if ann.get('id') in seen_ids:
            raise AnnotationError(f'{source}: annotation id={ann.get("id")} is used more than once '
                                  '(annotation ids must be unique)')
        seen_ids.add(ann.get('id'))
        if ann.get('image_id') not in image_ids:
            raise AnnotationError(f'{source}: annotation id={ann.get("id")} refers to '
                                  f'image_id={ann.get("image_id")}, which is not in "images"')
        if category_ids and 'category_id' in ann and ann['category_id'] not in category_ids:
            raise AnnotationError(
                f'{source}: annotation id={ann.get("id")} has category_id={ann["category_id"]}, '
                'which is not in "categories"')


class CheckedCOCO(COCO):
    """mmdet's COCO API wrapper that validates references on load (see ``check_coco_references``).

    The file is read with :func:`load_json_file` (pycocotools' own ``json.load`` raised a bare
    ``JSONDecodeError`` without the file name for a truncated file) and checked before
    pycocotools builds its index.

    Args:
        annotation_file (str, optional): COCO json path.
    """

    def __init__(self, annotation_file: str = None) -> None:
        super().__init__(None)
        if annotation_file is not None:
            dataset = load_json_file(annotation_file)
            check_coco_references(dataset, annotation_file)
            self.dataset = dataset
            self.createIndex()
            # mmdet's wrapper aliases pycocotools' index tables; createIndex made new ones
            self.img_ann_map = self.imgToAnns
            self.cat_img_map = self.catToImgs


def box_problem(bbox: Any,
                width: float,
                height: float,
                area: Optional[float] = None) -> Optional[str]:
    """What is wrong with a COCO ``[x, y, w, h]`` box of a ``width`` x ``height`` image, or None.

    Args:
        bbox: The box as read from the file.
        width (float): Image width.
        height (float): Image height.
        area (float, optional): The annotation's ``area`` when given.

    Returns:
        str | None: ``'not 4 numbers'``, ``'degenerate box'`` (side < 1 or area <= 0) or
        ``'outside the image'``; None for a usable box.
    """
    if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
            or not all(isinstance(v, (int, float)) for v in bbox)):
        return 'not 4 numbers'
    x1, y1, w, h = bbox
    if w < 1 or h < 1 or (area is not None and area <= 0):
        return 'degenerate box'
    inter_w = max(0, min(x1 + w, width) - max(x1, 0))
    inter_h = max(0, min(y1 + h, height) - max(y1, 0))
    if inter_w * inter_h == 0:
        return 'outside the image'
    return None


MIN_IMAGE_SIDE = 8


def image_size_problem(width: Any, height: Any) -> Optional[str]:
    """What is wrong with an image record's ``width``/``height``, or None.

    Rule: both are integers >= ``MIN_IMAGE_SIDE`` (8) pixels; a smaller image (e.g. 1x1) cannot be
    tiled into the vision tower's view nor hold a box of side >= 1 after resizing.
    """
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (width, height)):
        return f'width/height {width!r}x{height!r} are not integers'
    if min(width, height) < MIN_IMAGE_SIDE:
        return (f'image of {width}x{height} pixels is degenerate (sides of at least '
                f'{MIN_IMAGE_SIDE} px are needed)')
    return None


def require_keys(record: Dict[str, Any], keys: Iterable[str], where: str) -> None:
    """Raise ``AnnotationError`` naming ``where`` if ``record`` is not a dict holding ``keys``."""
    if not isinstance(record, dict):
        raise AnnotationError(f'{where}: expected a JSON object, got {type(record).__name__}')
    missing = [key for key in keys if key not in record]
    if missing:
        raise AnnotationError(f'{where}: missing key(s) {missing}')


def check_conversation(turns: Sequence[Any], where: str, has_image: bool, num_regions: int) -> None:
    """Validate a LLaVA-style conversation.

    Rules: a non-empty list of ``{'from': 'human'|'gpt', 'value': str}`` turns alternating
    human/gpt and starting with human; ``<image>`` appears exactly once (in the first human turn)
    iff the sample has an image; the ``<region>`` count equals the number of region prompts.

    Args:
        turns (Sequence): The ``conversations`` value.
        where (str): Record description for error messages (file and entry).
        has_image (bool): Whether the sample has an image.
        num_regions (int): Number of region prompts of the sample.

    Raises:
        AnnotationError: If a rule is broken.
    """
    if not isinstance(turns, (list, tuple)) or not turns:
        raise AnnotationError(f'{where}: "conversations" must be a non-empty list of turns')
    for i, turn in enumerate(turns):
        require_keys(turn, ('from', 'value'), f'{where} turn {i}')
        expected = 'human' if i % 2 == 0 else 'gpt'
        if turn['from'] != expected:
            raise AnnotationError(f'{where} turn {i}: expected from={expected!r} (turns alternate '
                                  f'human/gpt starting with human), got {turn["from"]!r}')
        if not isinstance(turn['value'], str):
            raise AnnotationError(f'{where} turn {i}: "value" must be a string')
    text = ''.join(turn['value'] for turn in turns)
    image_count = text.count('<image>')
    if has_image and (image_count != 1 or '<image>' not in turns[0]['value']):
        raise AnnotationError(f'{where}: a sample with an image needs exactly one <image> in its '
                              f'first human turn, found {image_count} in the conversation')
    if not has_image and image_count:
        raise AnnotationError(f'{where}: <image> appears but the sample has no image')
    region_count = text.count('<region>')
    if region_count != num_regions:
        raise AnnotationError(f'{where}: {region_count} <region> placeholder(s) but {num_regions} '
                              'region prompt(s)')


def load_json_file(path: str) -> Any:
    """Load a JSON file; a syntax error becomes an ``AnnotationError`` naming file and position."""
    try:
        return json.loads(get_text(path))
    except json.JSONDecodeError as error:
        raise AnnotationError(f'{path} is not valid JSON: {error}') from error


def load_json_list(path: str) -> list:
    """Load a JSON file whose top level must be a list (LLaVA, text→image and edit files)."""
    content = load_json_file(path)
    if not isinstance(content, list):
        raise AnnotationError(f'{path}: expected a JSON list of samples at the top level, got '
                              f'{type(content).__name__}')
    return content
