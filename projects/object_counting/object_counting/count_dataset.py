"""COCO instances as counting conversations: "How many ...: circle, square?" ->
"circle [CNT], square [CNT]", with ``gt_counts`` = {name: number of instances}.

Reuses the core's :class:`CocoInstanceConversationDataset` (COCO reading, class choice and order,
the answer with one routing token per class) and only adds the counts; the task's routing token
and templates come from its declaration (:mod:`.task`).
"""
from collections import Counter
from typing import Any, Dict

from mmvisionllm.datasets import CocoInstanceConversationDataset
from mmvisionllm.registry import DATASETS
from . import task  # noqa: F401  (declares the task before a dataset names it)

__all__ = ['CocoCountConversationDataset']


@DATASETS.register_module()
class CocoCountConversationDataset(CocoInstanceConversationDataset):
    """Counting samples from a COCO instances file.

    Training samples ask for the present classes plus randomly chosen absent ones (count 0), in a
    random order; test samples ask for every class in dataset order. Ignored (crowd) instances
    are not counted.
    """

    SUPPORTED_TASKS = ('count', )

    def build_conversation(self, data_info: Dict[str, Any]) -> Dict[str, Any]:
        """The detection conversation with ``[CNT]`` plus ``gt_counts``."""
        result = super().build_conversation(data_info)
        counts = Counter(inst['bbox_label'] for inst in data_info['instances']
                         if not inst.get('ignore_flag'))
        classes = self.metainfo['classes']
        result['gt_counts'] = {
            classes[label]: int(counts.get(label, 0))
            for label in result['target_label_ids']
        }
        return result
