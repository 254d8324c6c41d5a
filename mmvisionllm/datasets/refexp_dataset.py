"""Referring expressions (MDETR-style RefCOCO/+/g json) as grounding conversations (task ``grd``).

Reads the format mmdet's ``MDETRStyleRefCocoDataset`` reads and mmdet's ``RefExpMetric`` scores: one
"image" entry per expression (``caption``, ``dataset_name``, ``file_name``) with exactly one
annotation, its box. Subclasses that mmdet class for its metainfo and registry conventions but loads
through ``CheckedCOCO`` and checks the one-box-per-expression rule, which mmdet only asserts at
evaluation time. The same class reads ShapesWorld's ``refexp_*.json`` and MDETR's
``final_refcoco_*.json``. An expression without its box is an error (nothing to ground).
"""
import os.path as osp
from typing import Any, Dict, List

from mmdet.datasets import MDETRStyleRefCocoDataset
from mmengine.fileio import get_local_path

from ..registry import DATASETS
from .annotation_checks import AnnotationError, CheckedCOCO, box_problem, require_keys
from .conversation_mixin import ConversationDatasetMixin

__all__ = ['RefExpConversationDataset']


@DATASETS.register_module()
class RefExpConversationDataset(ConversationDatasetMixin, MDETRStyleRefCocoDataset):
    """Grounding samples: ``"<image>\\nPlease locate the red star in the image."`` →
    ``"the red star [GRD]"``.

    The gt is one instance with label 0 (``target_names = [expression]``) and, when the file has a
    segmentation, its mask (usable with ``with_mask=True``). ``img_id`` is the expression id, as
    ``RefExpMetric`` expects; ``original_img_id`` names the scene image.

    Args:
        **kwargs: mmdet ``BaseDetDataset`` / ``ConversationDatasetMixin`` arguments.
    """

    SUPPORTED_TASKS = ('grd', )
    METAINFO = {'classes': ('referred object', )}

    def load_data_list(self) -> List[dict]:
        """Load the MDETR-style file (one data info per expression)."""
        with get_local_path(self.ann_file, backend_args=self.backend_args) as local_path:
            coco = CheckedCOCO(local_path)
        data_list = []
        for expression_id in coco.get_img_ids():
            entry = coco.load_imgs([expression_id])[0]
            where = f'{self.ann_file}: expression id={expression_id}'
            require_keys(entry, ('file_name', 'height', 'width', 'caption'), where)
            anns = coco.load_anns(coco.get_ann_ids(img_ids=[expression_id]))
            if len(anns) != 1:
                raise AnnotationError(f'{where} has {len(anns)} annotations; a referring '
                                      'expression needs exactly one box')
            problem = box_problem(anns[0].get('bbox'), entry['width'], entry['height'])
            if problem is not None:
                raise AnnotationError(f'{where}: box {anns[0].get("bbox")} of annotation id='
                                      f'{anns[0].get("id")} is unusable ({problem})')
            x, y, w, h = anns[0]['bbox']
            instance = {
                'bbox': [x, y, x + w, y + h],
                'bbox_label': 0,
                'ignore_flag': 0,
                'ann_id': anns[0].get('id')
            }
            if anns[0].get('segmentation'):
                instance['mask'] = anns[0]['segmentation']
            data_list.append({
                'img_path':
                osp.join(self.data_prefix.get('img', ''), entry['file_name']),
                'img_id':
                expression_id,
                'original_img_id':
                entry.get('original_id', entry.get('original_img_id')),
                'height':
                entry['height'],
                'width':
                entry['width'],
                'expression':
                entry['caption'],
                'dataset_mode':
                entry.get('dataset_name', 'refcoco'),
                'instances': [instance],
            })
        return data_list

    def build_conversation(self, data_info: Dict[str, Any]) -> Dict[str, Any]:
        """Question with the expression; answer = expression + ``[GRD]``."""
        expression = data_info['expression'].strip()
        if self.answer_format == 'official':
            conversation = self.official_conversation(text=expression)
        else:
            conversation = self.two_turns(
                self.instruction(expression=expression), f'{expression} {self.routing_token}')
        return {
            'conversation': conversation,
            'target_names': [expression],
        }
