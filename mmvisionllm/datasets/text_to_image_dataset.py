"""Text→image pairs (``[{"image": ..., "caption": ...}]``) as generation samples (``gen``).

A small MMEngine ``BaseDataset``: the sample has no input image (``img_path`` is None, so the CLIP
and decoder views are ``None``), the target image path goes to ``target_img_path`` for
``LoadTargetImage``. ShapesWorld's pairs are its simple scenes (1-2 shapes, no person) with a fully
specified caption.
"""
import os.path as osp
from typing import Any, Dict, List

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .annotation_checks import AnnotationError, load_json_list, require_keys
from .conversation_mixin import ConversationDatasetMixin
from .instruction_templates import GENERATION_ANSWER

__all__ = ['TextToImageDataset']


@DATASETS.register_module()
class TextToImageDataset(ConversationDatasetMixin, BaseDataset):
    """Generation samples: ``"Please generate an image of a red circle."`` → ``GENERATION_ANSWER``.

    Args:
        **kwargs: MMEngine ``BaseDataset`` arguments (``data_prefix=dict(img=...)`` is the folder
            of the entries' ``image`` paths).
    """

    SUPPORTED_TASKS = ('gen', )

    def load_data_list(self) -> List[dict]:
        """Validate and convert every pair."""
        data_list = []
        for i, entry in enumerate(load_json_list(self.ann_file)):
            where = f'{self.ann_file}: entry {i}'
            require_keys(entry, ('image', 'caption'), where)
            if not isinstance(entry['caption'], str) or not entry['caption'].strip():
                raise AnnotationError(f'{where}: "caption" must be a non-empty string')
            data_list.append({
                'img_path':
                None,
                'img_id':
                entry.get('image_id', entry.get('id', i)),
                'target_img_path':
                osp.join(self.data_prefix.get('img', ''), entry['image']),
                'caption':
                entry['caption'].strip(),
            })
        return data_list

    def build_conversation(self, data_info: Dict[str, Any]) -> Dict[str, Any]:
        """Caption in a generation phrasing (no ``<image>``) → ``GENERATION_ANSWER``."""
        if self.answer_format == 'official':
            conversation = self.official_conversation(with_image=False, text=data_info['caption'])
        else:
            question = self.instruction(with_image=False, caption=data_info['caption'])
            conversation = self.two_turns(question, GENERATION_ANSWER)
        return {'conversation': conversation, 'target_names': ['image']}
