"""LLaVA conversation json (with optional ``<region>`` box/mask prompts) as text-task samples.

Reads LLaVA's instruction-tuning format (a list of ``{"id", "image", "conversations": [{"from",
"value"}, ...]}``) on MMEngine's ``BaseDataset``; ShapesWorld's ``region_*.json`` adds a ``regions``
list per entry: ``{"type": "box"|"mask", "bbox": [x, y, w, h], "segmentation": COCO RLE/polygons}``,
one per ``<region>`` placeholder, which ``LoadRegionPrompts`` turns into bool masks. The
conversation is used as written (it already holds the question); every entry is validated
(``check_conversation``) and a malformed one raises with the file and entry named.
"""
import copy
import os.path as osp
from typing import Any, Dict, List

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .annotation_checks import AnnotationError, check_conversation, load_json_list, require_keys
from .conversation_mixin import ConversationDatasetMixin

__all__ = ['LlavaConversationDataset']

_PROMPT_TYPES = ('box', 'mask')


def _check_region(region: Any, where: str) -> None:
    require_keys(region, ('bbox', ), where)
    bbox = region['bbox']
    if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4 and bbox[2] > 0 and bbox[3] > 0):
        raise AnnotationError(f'{where}: "bbox" must be [x, y, w, h] with w, h > 0, got {bbox}')
    prompt_type = region.get('type', 'mask' if 'segmentation' in region else 'box')
    if prompt_type not in _PROMPT_TYPES:
        raise AnnotationError(f'{where}: region "type" must be one of {_PROMPT_TYPES}')
    if prompt_type == 'mask' and 'segmentation' not in region:
        raise AnnotationError(f'{where}: a mask prompt needs a "segmentation"')


@DATASETS.register_module()
class LlavaConversationDataset(ConversationDatasetMixin, BaseDataset):
    """Conversation samples (region questions, or plain LLaVA chat).

    Args:
        task (str): ``'region'`` (every entry needs region prompts) or ``'chat'``. Defaults to
            ``'region'``.
        **kwargs: MMEngine ``BaseDataset`` arguments; ``data_prefix=dict(img=...)`` is the
            folder the entries' ``image`` paths are relative to.
    """

    SUPPORTED_TASKS = ('region', 'chat')

    def load_data_list(self) -> List[dict]:
        """Validate and convert every entry."""
        data_list = []
        for i, entry in enumerate(load_json_list(self.ann_file)):
            where = f'{self.ann_file}: entry {i}'
            require_keys(entry, ('conversations', ), where)
            where = f'{where} (id={entry.get("id")!r})'
            regions = entry.get('regions', [])
            if not isinstance(regions, list):
                raise AnnotationError(f'{where}: "regions" must be a list')
            for j, region in enumerate(regions):
                _check_region(region, f'{where} region {j}')
            if self.task == 'region' and not regions:
                raise AnnotationError(f'{where}: the region task needs at least one region prompt')
            has_image = 'image' in entry
            check_conversation(entry['conversations'], where, has_image, len(regions))
            if has_image:  # checked at build time, not when the sample is first drawn
                img_path = osp.join(self.data_prefix.get('img', ''), entry['image'])
                if '://' not in img_path and not osp.isfile(img_path):
                    raise AnnotationError(f'{where}: image {img_path} does not exist')
            data_list.append({
                'img_path':
                osp.join(self.data_prefix.get('img', ''), entry['image']) if has_image else None,
                'img_id':
                entry.get('image_id', entry.get('id', i)),
                'sample_id':
                entry.get('id', i),
                'source_conversation':
                copy.deepcopy(entry['conversations']),
                'region_prompts':
                regions,
            })
        return data_list

    def build_conversation(self, data_info: Dict[str, Any]) -> Dict[str, Any]:
        """The stored conversation, unchanged."""
        return {'conversation': data_info['source_conversation'], 'target_names': []}
