"""Edit triplets (``[{"source", "instruction", "target"}]``, InstructPix2Pix style): ``edit``.

A small MMEngine ``BaseDataset``: the source image is the sample's image (CLIP view and the editing
decoder's input view), the target goes to ``target_img_path`` for ``LoadTargetImage``.
"""
import os.path as osp
from typing import Any, Dict, List

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .annotation_checks import AnnotationError, load_json_list, require_keys
from .conversation_mixin import ConversationDatasetMixin
from .instruction_templates import EDIT_ANSWER

__all__ = ['ImageEditDataset']


@DATASETS.register_module()
class ImageEditDataset(ConversationDatasetMixin, BaseDataset):
    """Editing samples: ``"<image>\\nPlease edit the image: make the star green."`` →
    ``"Here is the edited image [EDIT]"``.

    Args:
        **kwargs: MMEngine ``BaseDataset`` arguments (``data_prefix=dict(img=...)`` is the folder
            of the entries' ``source``/``target`` paths).
    """

    SUPPORTED_TASKS = ('edit', )

    def load_data_list(self) -> List[dict]:
        """Validate and convert every triplet."""
        data_list = []
        prefix = self.data_prefix.get('img', '')
        for i, entry in enumerate(load_json_list(self.ann_file)):
            where = f'{self.ann_file}: entry {i}'
            require_keys(entry, ('source', 'instruction', 'target'), where)
            if not isinstance(entry['instruction'], str) or not entry['instruction'].strip():
                raise AnnotationError(f'{where}: "instruction" must be a non-empty string')
            data_list.append({
                'img_path': osp.join(prefix, entry['source']),
                'img_id': entry.get('image_id', entry.get('id', i)),
                'target_img_path': osp.join(prefix, entry['target']),
                'edit_instruction': entry['instruction'].strip().rstrip('.'),
            })
        return data_list

    def build_conversation(self, data_info: Dict[str, Any]) -> Dict[str, Any]:
        """Instruction in an editing phrasing → ``EDIT_ANSWER``."""
        if self.answer_format == 'official':
            conversation = self.official_conversation(text=data_info['edit_instruction'])
        else:
            question = self.instruction(instruction=data_info['edit_instruction'])
            conversation = self.two_turns(question, EDIT_ANSWER)
        return {'conversation': conversation, 'target_names': ['image']}
