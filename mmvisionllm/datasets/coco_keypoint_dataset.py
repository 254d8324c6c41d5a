"""COCO person keypoints as VisionLLM v2 pose conversations (task ``pose``).

Loading reuses mmdet's ``CocoDataset`` machinery (see ``coco_instance_dataset``) so the pose gt goes
through the same mmdet transforms as the boxes; the keypoint metainfo (names, skeleton, sigmas, flip
pairs) is parsed by mmpose's ``parse_pose_metainfo`` from an mmpose-style ``dataset_info`` config
(``metainfo=dict(from_file=...)``), so mmpose's ``CocoMetric`` and visualiser read it unchanged. The
default is mmpose's own COCO-17 file, for real COCO; ShapesWorld passes
``configs/_base_/datasets/shapesworld_keypoint_info.py``.

The whole image is one sample (bottom-up, like UniPose): every person with its keypoints. Persons
without labelled keypoints keep their box with all keypoints invisible, and an image without any
person is kept as a negative sample (empty ``gt_instances``). The sample's ``id`` lists the COCO
annotation ids, which mmpose's ``CocoMetric`` reads.
"""
import os.path as osp
from typing import Any, Dict, List

import mmpose
from mmdet.datasets import CocoDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from ..registry import DATASETS
from .annotation_checks import CheckedCOCO
from .coco_instance_dataset import load_coco_image_records
from .conversation_mixin import ConversationDatasetMixin
from .instruction_templates import routed_answer

__all__ = ['CocoPoseConversationDataset']


@DATASETS.register_module()
class CocoPoseConversationDataset(ConversationDatasetMixin, CocoDataset):
    """COCO keypoints with a pose conversation.

    ``target_names`` is ``[object class, kpt_1, ..., kpt_K]`` (keypoints in metainfo order), each
    followed by ``[POSE]`` in the answer. Instances carry ``keypoints`` [K, 3] (x, y, COCO
    visibility) that ``LoadMultimodalAnnotations(with_keypoints=True)`` turns into ``gt_keypoints``
    [n, K, 2] and ``gt_keypoints_visible`` [n, K].

    Args:
        metainfo (dict, optional): ``classes`` (default ``('person',)``) and ``from_file``: the
            path of an mmpose ``dataset_info`` config (default: mmpose's COCO-17 ``coco.py``).
        **kwargs: mmdet ``CocoDataset`` / ``ConversationDatasetMixin`` arguments.
    """

    SUPPORTED_TASKS = ('pose', )
    COCOAPI = CheckedCOCO
    METAINFO = {'classes': ('person', )}

    @staticmethod
    def default_keypoint_info_file() -> str:
        """mmpose's own COCO-17 ``dataset_info`` config (shipped inside the mmpose package)."""
        return osp.join(
            osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_', 'datasets', 'coco.py')

    @classmethod
    def _load_metainfo(cls, metainfo: dict = None) -> dict:
        """mmengine metainfo + the parsed mmpose keypoint metainfo."""
        metainfo = dict(metainfo or {})
        keypoint_info_file = metainfo.pop('from_file', None) or cls.default_keypoint_info_file()
        merged = super()._load_metainfo(metainfo)
        pose_meta = parse_pose_metainfo({'from_file': keypoint_info_file})
        merged.update({key: value for key, value in pose_meta.items() if key not in metainfo})
        merged['keypoint_info_file'] = keypoint_info_file
        return merged

    def load_data_list(self) -> List[dict]:
        """Load the COCO keypoint file (one data info per image)."""
        data_list = load_coco_image_records(self, with_keypoints=True)
        num_keypoints = self.metainfo['num_keypoints']
        for data_info in data_list:
            for inst in data_info['instances']:
                if inst['keypoints'].shape[0] != num_keypoints:
                    raise ValueError(
                        f'{self.ann_file}: annotation id={inst["ann_id"]} has '
                        f'{inst["keypoints"].shape[0]} keypoints, the metainfo '
                        f'({self.metainfo["keypoint_info_file"]}) defines {num_keypoints}')
            data_info['id'] = [inst['ann_id'] for inst in data_info['instances']]
        return data_list

    @property
    def keypoint_names(self) -> List[str]:
        """Keypoint names in metainfo order."""
        id2name = self.metainfo['keypoint_id2name']
        return [id2name[i] for i in range(self.metainfo['num_keypoints'])]

    def build_conversation(self, data_info: Dict[str, Any]) -> Dict[str, Any]:
        """``"... keypoints of every person ..."`` → ``"person [POSE], head [POSE], ..."``."""
        category = self.metainfo['classes'][0]
        target_names = [category] + self.keypoint_names
        if self.answer_format == 'official':  # the object class through [DET], as released
            conversation = self.official_conversation(
                target_names=[category], keypoint_names=self.keypoint_names)
        else:
            question = self.instruction(category=category, keypoints=', '.join(self.keypoint_names))
            conversation = self.two_turns(question, routed_answer(target_names, self.routing_token))
        return {
            'conversation': conversation,
            'target_names': target_names,
            'num_keypoints': self.metainfo['num_keypoints'],
        }
