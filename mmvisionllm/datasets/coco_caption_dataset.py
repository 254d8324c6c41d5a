"""COCO-caption files as captioning conversations (task ``caption``).

Loads with mmdet's COCO API wrapper through ``CheckedCOCO`` (a caption pointing to a missing image
is an error) on top of MMEngine's ``BaseDataset``. Training yields one sample per caption, test mode
one sample per image; every sample keeps all captions of its image in ``gt_captions`` for the
caption metric. An image without any caption is an error (there is nothing to learn or score).
"""
import os.path as osp
from typing import Any, Dict, List

from mmengine.dataset import BaseDataset
from mmengine.fileio import get_local_path

from ..registry import DATASETS
from .annotation_checks import AnnotationError, CheckedCOCO
from .conversation_mixin import ConversationDatasetMixin

__all__ = ['CocoCaptionConversationDataset']


@DATASETS.register_module()
class CocoCaptionConversationDataset(ConversationDatasetMixin, BaseDataset):
    """Caption samples: ``"<image>\\nDescribe the image briefly."`` → ``"a small red circle."``.

    Args:
        **kwargs: MMEngine ``BaseDataset`` / ``ConversationDatasetMixin`` arguments
            (``ann_file``, ``data_root``, ``data_prefix=dict(img=...)``, ``pipeline``,
            ``test_mode``).
    """

    SUPPORTED_TASKS = ('caption', )

    def load_data_list(self) -> List[dict]:
        """One data info per caption (training) or per image (test)."""
        with get_local_path(self.ann_file) as local_path:
            coco = CheckedCOCO(local_path)
        data_list = []
        for img_id in coco.get_img_ids():
            img_info = coco.load_imgs([img_id])[0]
            captions = [
                ann['caption'] for ann in coco.load_anns(coco.get_ann_ids(img_ids=[img_id]))
            ]
            if not captions:
                raise AnnotationError(f'{self.ann_file}: image id={img_id} '
                                      f'({img_info.get("file_name")}) has no caption')
            base = {
                'img_path': osp.join(self.data_prefix.get('img', ''), img_info['file_name']),
                'img_id': img_id,
                'gt_captions': captions,
            }
            chosen = captions[:1] if self.test_mode else captions
            data_list.extend(dict(base, caption=caption) for caption in chosen)
        return data_list

    def build_conversation(self, data_info: Dict[str, Any]) -> Dict[str, Any]:
        """Caption request → the caption."""
        return {
            'conversation': self.two_turns(self.instruction(), data_info['caption'].strip()),
            'target_names': []
        }
