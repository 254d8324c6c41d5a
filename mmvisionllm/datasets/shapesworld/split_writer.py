"""Write one split of ShapesWorld (images + every annotation file) in the standard formats.

Formats (docs/en/architecture.md section 5): COCO instances and person keypoints, MDETR-style
RefCOCO json (what mmdet's ``MDETRStyleRefCocoDataset`` and ``RefExpMetric`` read: one "image"
entry per expression with ``caption`` and ``dataset_name``, exactly one annotation each), VQAv2
question/annotation files (ten answers per question), COCO captions, LLaVA conversations with
``<region>`` prompts, text→image pairs and edit triplets. Output is byte-reproducible: ids are
assigned in generation order, JSON is written with sorted keys and no timestamps, PNGs with fixed
OpenCV parameters.
"""
import json
import os
import os.path as osp
from typing import Any, Dict, List

import cv2
import numpy as np

from .coco_records import (encode_mask, instance_categories, instance_record, keypoint_categories,
                           keypoint_record)
from .renderer import RenderedScene, render_scene
from .scene_annotator import SceneAnnotations
from .scene_facts import ObjectFacts
from .scene_graph import Scene

__all__ = ['ShapesWorldSplitWriter', 'write_json', 'write_png', 'REFEXP_DATASET_NAME']

#: ``dataset_name`` of the referring expressions: mmdet's ``RefExpMetric`` only scores
#: ``refcoco``/``refcoco+``/``refcocog``; ShapesWorld expressions are RefCOCO-like.
REFEXP_DATASET_NAME = 'refcoco'
_VQA_ANSWERS_PER_QUESTION = 10
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3]


def write_json(path: str, content: Any) -> None:
    """Write JSON deterministically (sorted keys, compact separators, trailing newline)."""
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(content, f, sort_keys=True, separators=(',', ':'), ensure_ascii=True)
        f.write('\n')


def write_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image [H, W, 3] as PNG with fixed parameters."""
    if not cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1]), _PNG_PARAMS):
        raise OSError(f'Could not write image {path}')


class ShapesWorldSplitWriter:
    """Accumulates the annotations of one split and writes its files.

    Args:
        out_dir (str): Dataset root (``images/`` and ``annotations/`` are created below it).
        split (str): ``'train'`` or ``'val'``.
        img_size (int): Image side.
        info (dict): Static ``info`` block of the COCO files (no dates, for reproducibility).
    """

    def __init__(self, out_dir: str, split: str, img_size: int, info: Dict) -> None:
        self.out_dir = out_dir
        self.split = split
        self.img_size = img_size
        self.info = dict(info, split=split)
        self.image_dir = osp.join(out_dir, 'images', split)
        self.edit_dir = osp.join(out_dir, 'images', f'edit_{split}')
        self.ann_dir = osp.join(out_dir, 'annotations')
        for directory in (self.image_dir, self.edit_dir, self.ann_dir):
            os.makedirs(directory, exist_ok=True)
        self.images: List[Dict] = []
        self.instances: List[Dict] = []
        self.keypoints: List[Dict] = []
        self.refexp_images: List[Dict] = []
        self.refexp_annotations: List[Dict] = []
        self.vqa_questions: List[Dict] = []
        self.vqa_annotations: List[Dict] = []
        self.captions: List[Dict] = []
        self.regions: List[Dict] = []
        self.t2i: List[Dict] = []
        self.edits: List[Dict] = []

    def add_scene(self, image_index: int, scene: Scene, rendered: RenderedScene,
                  objects: List[ObjectFacts], texts: SceneAnnotations) -> None:
        """Write the scene's image(s) and record its annotations.

        Args:
            image_index (int): Index of the scene in the split; also its COCO image id.
            scene (Scene): The scene graph.
            rendered (RenderedScene): Its rendering.
            objects (list[ObjectFacts]): Its object facts.
            texts (SceneAnnotations): Its text annotations.
        """
        image_id = image_index
        file_name = f'{image_index:06d}.png'
        rel_image = f'{self.split}/{file_name}'
        write_png(osp.join(self.image_dir, file_name), rendered.image)
        self.images.append({
            'id': image_id,
            'file_name': file_name,
            'height': self.img_size,
            'width': self.img_size
        })

        instance_by_object: Dict[int, Dict] = {}
        for obj, mask in zip(objects, rendered.visible_masks):
            record = instance_record(len(self.instances) + 1, image_id, obj.category, mask)
            self.instances.append(record)
            instance_by_object[obj.index] = record
            if obj.category == 'person':
                self.keypoints.append(
                    keypoint_record(record, rendered.keypoints[obj.index],
                                    rendered.keypoint_visibility[obj.index]))

        for object_index, expression in texts.referring:
            self._add_referring(image_id, file_name, instance_by_object[object_index], expression)
        for item in texts.vqa:
            question_id = len(self.vqa_questions) + 1
            self.vqa_questions.append({
                'image_id': image_id,
                'question': item.question,
                'question_id': question_id
            })
            self.vqa_annotations.append({
                'question_id':
                question_id,
                'image_id':
                image_id,
                'question_type':
                item.question_type,
                'answer_type':
                item.answer_type,
                'multiple_choice_answer':
                item.answer,
                'answers': [{
                    'answer': item.answer,
                    'answer_confidence': 'yes',
                    'answer_id': i + 1
                } for i in range(_VQA_ANSWERS_PER_QUESTION)],
            })
        for caption in texts.captions:
            self.captions.append({
                'id': len(self.captions) + 1,
                'image_id': image_id,
                'caption': caption
            })
        for number, region in enumerate(texts.regions):
            record = instance_by_object[region.object_index]
            prompt = {'type': region.prompt_type, 'bbox': record['bbox']}
            if region.prompt_type == 'mask':
                prompt['segmentation'] = encode_mask(rendered.visible_masks[region.object_index])
            self.regions.append({
                'id':
                f'{self.split}_{image_index:06d}_{number}',
                'image':
                rel_image,
                'image_id':
                image_id,
                'conversations': [{
                    'from': 'human',
                    'value': f'<image>\n{region.question}'
                }, {
                    'from': 'gpt',
                    'value': region.answer
                }],
                'regions': [prompt],
            })
        if texts.t2i_caption is not None:
            self.t2i.append({
                'id': len(self.t2i) + 1,
                'image': rel_image,
                'image_id': image_id,
                'caption': texts.t2i_caption
            })
        if texts.edit is not None:
            target_name = f'{image_index:06d}_target.png'
            write_png(
                osp.join(self.edit_dir, target_name),
                render_scene(texts.edit.edited_scene).image)
            self.edits.append({
                'id': len(self.edits) + 1,
                'image_id': image_id,
                'source': rel_image,
                'target': f'edit_{self.split}/{target_name}',
                'instruction': texts.edit.instruction,
                'operation': texts.edit.operation,
            })

    def _add_referring(self, image_id: int, file_name: str, instance: Dict,
                       expression: str) -> None:
        """Record one expression as an MDETR-style image entry with its single box."""
        expression_id = len(self.refexp_images)
        span = [[0, len(expression)]]
        self.refexp_images.append({
            'id': expression_id,
            'file_name': file_name,
            'height': self.img_size,
            'width': self.img_size,
            'caption': expression,
            'dataset_name': REFEXP_DATASET_NAME,
            'original_id': image_id,
            'original_img_id': image_id,
            'tokens_negative': span,
            'tokens_positive_eval': [span],
        })
        annotation = dict(instance)
        annotation.update({
            'id': len(self.refexp_annotations) + 1,
            'image_id': expression_id,
            'original_id': instance['id'],
            'tokens_positive': span,
        })
        self.refexp_annotations.append(annotation)

    def write(self) -> None:
        """Write every annotation file of the split."""
        split, ann_dir = self.split, self.ann_dir
        coco_base = {'info': self.info, 'licenses': [], 'images': self.images}
        write_json(
            osp.join(ann_dir, f'instances_{split}.json'),
            dict(coco_base, annotations=self.instances, categories=instance_categories()))
        write_json(
            osp.join(ann_dir, f'person_keypoints_{split}.json'),
            dict(coco_base, annotations=self.keypoints, categories=keypoint_categories()))
        write_json(
            osp.join(ann_dir, f'refexp_{split}.json'), {
                'info': self.info,
                'licenses': [],
                'images': self.refexp_images,
                'annotations': self.refexp_annotations,
                'categories': instance_categories()
            })
        vqa_head = {
            'info': self.info,
            'license': {},
            'data_type': 'shapesworld',
            'data_subtype': split
        }
        write_json(
            osp.join(ann_dir, f'vqa_{split}_questions.json'),
            dict(vqa_head, task_type='Open-Ended', questions=self.vqa_questions))
        write_json(
            osp.join(ann_dir, f'vqa_{split}_annotations.json'),
            dict(vqa_head, annotations=self.vqa_annotations))
        write_json(
            osp.join(ann_dir, f'captions_{split}.json'), dict(coco_base, annotations=self.captions))
        write_json(osp.join(ann_dir, f'region_{split}.json'), self.regions)
        write_json(osp.join(ann_dir, f't2i_{split}.json'), self.t2i)
        write_json(osp.join(ann_dir, f'edit_{split}.json'), self.edits)

    def all_texts(self) -> List[str]:
        """Every text written so far (for the tokenizer vocabulary)."""
        texts = [img['caption'] for img in self.refexp_images]
        texts += [q['question'] for q in self.vqa_questions]
        texts += [a['multiple_choice_answer'] for a in self.vqa_annotations]
        texts += [c['caption'] for c in self.captions]
        texts += [turn['value'] for entry in self.regions for turn in entry['conversations']]
        texts += [pair['caption'] for pair in self.t2i]
        texts += [edit['instruction'] for edit in self.edits]
        return texts
