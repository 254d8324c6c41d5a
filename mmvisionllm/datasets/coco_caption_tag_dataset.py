"""COCO-caption files as image-level tags: the words of a fixed vocabulary an image's captions use.

The data of the tiny demo's vision pre-training (:class:`VisionTagPretrainer`): the real build
starts from CLIP, which learnt from captions; the tiny random-init tower learns from the demo's own
training captions by predicting their words (weakly supervised bag-of-words pre-training). Loads
with mmdet's COCO API wrapper through ``CheckedCOCO`` on top of MMEngine's ``BaseDataset``; one
sample per image.
"""
import os.path as osp
import re
from typing import List, Sequence

from mmengine.dataset import BaseDataset
from mmengine.fileio import get_local_path

from ..registry import DATASETS
from .annotation_checks import AnnotationError, CheckedCOCO

__all__ = ['CocoCaptionTagDataset', 'caption_words']


def caption_words(caption: str) -> set:
    """The lower-case words (letters only) of a caption."""
    return set(re.findall(r'[a-z]+', caption.lower()))


@DATASETS.register_module()
class CocoCaptionTagDataset(BaseDataset):
    """One sample per image with ``gt_tags``: the indices of the ``tags`` its captions contain.

    Args:
        tags (Sequence[str]): The tag vocabulary, single lower-case words (e.g. colour and shape
            names). Each must occur in some caption of the file: a tag that never does cannot be
            learnt and usually is a typo.
        **kwargs: MMEngine ``BaseDataset`` arguments (``ann_file``, ``data_root``,
            ``data_prefix=dict(img=...)``, ``pipeline``, ``test_mode``).
    """

    def __init__(self, tags: Sequence[str], **kwargs) -> None:
        tags = list(tags)
        bad = [t for t in tags if not re.fullmatch(r'[a-z]+', t)]
        if not tags or bad or len(set(tags)) != len(tags):
            raise ValueError(f'CocoCaptionTagDataset: `tags` must be distinct lower-case words, '
                             f'got {tags}')
        self.tags = tags
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        """One data info per image: ``img_path``, ``img_id`` and ``gt_tags``."""
        with get_local_path(self.ann_file) as local_path:
            coco = CheckedCOCO(local_path)
        data_list, used = [], set()
        for img_id in coco.get_img_ids():
            img_info = coco.load_imgs([img_id])[0]
            anns = coco.load_anns(coco.get_ann_ids(img_ids=[img_id]))
            if not anns:
                raise AnnotationError(f'{self.ann_file}: image id={img_id} '
                                      f'({img_info.get("file_name")}) has no caption')
            words = set().union(*(caption_words(ann['caption']) for ann in anns))
            gt_tags = [i for i, tag in enumerate(self.tags) if tag in words]
            used.update(gt_tags)
            data_list.append({
                'img_path':
                osp.join(self.data_prefix.get('img', ''), img_info['file_name']),
                'img_id':
                img_id,
                'gt_tags':
                gt_tags,
            })
        unused = [tag for i, tag in enumerate(self.tags) if i not in used]
        if unused:
            raise AnnotationError(f'{self.ann_file}: no caption contains the tag(s) {unused}')
        return data_list
