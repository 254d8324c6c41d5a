"""COCO detection / instance segmentation as VisionLLM v2 conversations (tasks ``det`` and ``seg``).

Reuses mmdet's ``CocoDataset`` (metainfo, ``filter_data``, ``get_cat_ids``, the COCO API wrapper)
and overrides only the annotation loop: labels follow the order of the configured ``classes`` (mmdet
follows the file's category order), a configured class missing from the file is an error, dropped
annotations are reported, and dangling image/category references raise (``CheckedCOCO``). The same
class reads ShapesWorld's ``instances_*.json`` and the real COCO ``instances_*.json``.

An image without annotations is kept as a negative sample (its answer still lists every class, its
``gt_instances`` are empty) unless ``filter_cfg=dict(filter_empty_gt=True)`` removes it, as in
mmdet.
"""
import os.path as osp
import random
from typing import Any, Dict, List, Optional

from mmdet.datasets import CocoDataset
from mmengine.fileio import get_local_path
from mmengine.logging import print_log

from ..registry import DATASETS
from .annotation_checks import AnnotationError, CheckedCOCO
from .coco_instance_parsing import parse_coco_instances
from .conversation_mixin import ConversationDatasetMixin
from .instruction_templates import routed_answer

__all__ = ['CocoInstanceConversationDataset', 'load_coco_image_records']


def load_coco_image_records(dataset: CocoDataset, with_keypoints: bool = False) -> List[Dict]:
    """Load ``dataset.ann_file`` into mmdet data infos (one per image), labels in ``classes`` order.

    Args:
        dataset (CocoDataset): The dataset being initialised (``ann_file``, ``metainfo``,
            ``data_prefix``, ``backend_args`` are read; ``cat_ids``/``cat2label``/``cat_img_map``
            set).
        with_keypoints (bool): Copy the COCO keypoints into the instances.

    Returns:
        list[dict]: Data infos with ``img_path``, ``img_id``, ``height``, ``width``, ``instances``.
    """
    with get_local_path(dataset.ann_file, backend_args=dataset.backend_args) as local_path:
        coco = CheckedCOCO(local_path)
    name_to_id = {cat['name']: cat['id'] for cat in coco.dataset.get('categories', [])}
    missing = [name for name in dataset.metainfo['classes'] if name not in name_to_id]
    if missing:
        raise AnnotationError(f'{dataset.ann_file}: configured classes {missing} are not in its '
                              f'categories {sorted(name_to_id)}')
    dataset.cat_ids = [name_to_id[name] for name in dataset.metainfo['classes']]
    dataset.cat2label = {cat_id: i for i, cat_id in enumerate(dataset.cat_ids)}
    dataset.cat_img_map = {cat_id: list(coco.cat_img_map[cat_id]) for cat_id in dataset.cat_ids}
    data_list, skipped, repaired = [], [], []
    for img_id in coco.get_img_ids():
        img_info = coco.load_imgs([img_id])[0]
        ann_info = coco.load_anns(coco.get_ann_ids(img_ids=[img_id]))
        try:
            instances, dropped, fixed = parse_coco_instances(ann_info, img_info, dataset.cat2label,
                                                             with_keypoints)
        except ValueError as error:
            raise AnnotationError(f'{dataset.ann_file}: {error}') from error
        skipped.extend(dropped)
        repaired.extend(fixed)
        data_list.append({
            'img_path':
            osp.join(dataset.data_prefix.get('img', ''), img_info['file_name']),
            'img_id':
            img_id,
            'height':
            img_info['height'],
            'width':
            img_info['width'],
            'instances':
            instances,
        })
    if skipped:
        reasons: Dict[str, int] = {}
        for _, reason in skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        print_log(
            f'{type(dataset).__name__}: {len(skipped)} annotation(s) of {dataset.ann_file} '
            f'left out: {reasons}; first ids: {[i for i, _ in skipped[:10]]}',
            logger='current',
            level=30)
    if repaired:
        print_log(
            f'{type(dataset).__name__}: {len(repaired)} annotation(s) of {dataset.ann_file} '
            'repaired by the documented rule of coco_instance_parsing (1-2 point polygon parts '
            f'dropped beside a valid outline); ids: {[i for i, _ in repaired[:10]]}',
            logger='current',
            level=30)
    dataset.num_skipped_annotations = len(skipped)
    dataset.num_repaired_annotations = len(repaired)
    return data_list


@DATASETS.register_module()
class CocoInstanceConversationDataset(ConversationDatasetMixin, CocoDataset):
    """COCO boxes/masks with a detection or segmentation conversation.

    Sample (before the pipeline): mmdet's data info (``img_path``, ``img_id``, ``instances`` with
    ``bbox``/``bbox_label``/``mask``/``ignore_flag``) plus ``task``, ``conversation``,
    ``target_names`` and ``target_label_ids``; instance labels index ``target_names``.

    Args:
        task (str): ``'det'`` or ``'seg'``. Defaults to ``'det'``.
        shuffle_targets (bool): In training, shuffle the order of the class names in the prompt.
            Defaults to True. Test mode always uses dataset order.
        max_targets (int, optional): In training, ask for at most this many classes: all classes
            present in the image plus random absent ones (instances of classes not asked for are
            removed from the gt). None asks for every class.
        template_index (int, optional): See ``ConversationDatasetMixin``.
        **kwargs: mmdet ``CocoDataset`` arguments (``ann_file``, ``data_root``, ``data_prefix``,
            ``metainfo=dict(classes=...)``, ``pipeline``, ``test_mode``, ``filter_cfg`` ...).
    """

    SUPPORTED_TASKS = ('det', 'seg')
    COCOAPI = CheckedCOCO

    def __init__(self,
                 *args,
                 shuffle_targets: bool = True,
                 max_targets: Optional[int] = None,
                 **kwargs) -> None:
        self.shuffle_targets = shuffle_targets
        self.max_targets = max_targets
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Load the COCO file (see module docstring)."""
        return load_coco_image_records(self)

    def _choose_label_ids(self, present: List[int]) -> List[int]:
        """Dataset labels to ask for, in prompt order."""
        num_classes = len(self.metainfo['classes'])
        if self.test_mode or (not self.shuffle_targets and self.max_targets is None):
            return list(range(num_classes))
        absent = [label for label in range(num_classes) if label not in present]
        random.shuffle(absent)
        if self.max_targets is not None:
            absent = absent[:max(0, self.max_targets - len(present))]
        chosen = list(present) + absent
        if self.shuffle_targets:
            random.shuffle(chosen)
        else:
            chosen.sort()
        return chosen

    def build_conversation(self, data_info: Dict[str, Any]) -> Dict[str, Any]:
        """Ask for the target classes; answer ``"circle [DET], square [DET], ..."``."""
        present = sorted({inst['bbox_label'] for inst in data_info['instances']})
        label_ids = self._choose_label_ids(present)
        classes = self.metainfo['classes']
        target_names = [classes[label] for label in label_ids]
        position = {label: i for i, label in enumerate(label_ids)}
        instances = [
            dict(inst, bbox_label=position[inst['bbox_label']]) for inst in data_info['instances']
            if inst['bbox_label'] in position
        ]
        if self.answer_format == 'official':
            conversation = self.official_conversation(target_names=target_names)
        else:
            conversation = self.two_turns(
                self.instruction(classes=', '.join(target_names)),
                routed_answer(target_names, self.routing_token))
        return {
            'conversation': conversation,
            'target_names': target_names,
            'target_label_ids': label_ids,
            'instances': instances,
        }
