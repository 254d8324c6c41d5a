"""Concatenation of task datasets whose metainfo differ (detection classes, keypoint sigmas, none).

MMEngine's ``ConcatDataset`` (reused for indexing and ``full_init``) insists on identical metainfo
and exposes only the first dataset's; here the per-dataset metainfo is merged (first value wins)
and kept whole under ``task_metainfo[task]`` and ``dataset_metainfos[i]``, so a metric wrapped in
``TaskFilteredMetric`` can find the classes or sigmas of its own task. ``get_task(idx)`` tells the
task-grouped batch sampler which decoder group a sample belongs to without loading it.
"""
import bisect
import copy
from typing import Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset, ConcatDataset

from ..registry import DATASETS

__all__ = ['MultiTaskDataset']


@DATASETS.register_module()
class MultiTaskDataset(ConcatDataset):
    """Several task datasets seen as one.

    Args:
        datasets (Sequence[BaseDataset | dict]): Datasets or their configs; each must have a
            ``task`` attribute (every mmvisionllm dataset has).
        lazy_init (bool): Defer ``full_init``. Defaults to False.
        max_samples (dict, optional): Task name -> keep only the first N samples of the datasets of
            that task given as configs (MMEngine's ``indices``), e.g. ``dict(vqa=200)`` for a short
            evaluation. Defaults to None (all samples).
        transform_overrides (dict, optional): Transform type -> arguments to set on every
            transform of that type in the pipelines of the datasets given as configs, e.g.
            ``dict(DynamicTiling=dict(max_tiles=1))``. MMEngine configs resolve inherited
            pipelines before a child config can edit them, so this is how one config changes a
            transform of many inherited datasets. Defaults to None.
    """

    def __init__(self,
                 datasets: Sequence[Union[BaseDataset, dict]],
                 lazy_init: bool = False,
                 max_samples: Optional[Dict[str, int]] = None,
                 transform_overrides: Optional[Dict[str, dict]] = None) -> None:
        max_samples = max_samples or {}
        built: List[BaseDataset] = []
        for d in datasets:
            if isinstance(d, dict):
                if d.get('task') in max_samples:
                    d = dict(d, indices=max_samples[d['task']])
                if transform_overrides:
                    d = self._override_transforms(d, transform_overrides)
                d = DATASETS.build(d)
            built.append(d)
        for i, dataset in enumerate(built):
            if not hasattr(dataset, 'task'):
                raise TypeError(f'MultiTaskDataset: dataset {i} ({type(dataset).__name__}) has no '
                                '"task" attribute; use an mmvisionllm dataset class')
        ignore_keys = sorted({key for dataset in built for key in dataset.metainfo})
        super().__init__(built, lazy_init=True, ignore_keys=ignore_keys)
        merged: dict = {}
        for dataset in built:
            for key, value in dataset.metainfo.items():
                merged.setdefault(key, value)
        merged['task_metainfo'] = {}
        for dataset in built:
            merged['task_metainfo'].setdefault(dataset.task, dataset.metainfo)
        merged['dataset_metainfos'] = [dataset.metainfo for dataset in built]
        merged['tasks'] = [dataset.task for dataset in built]
        self._metainfo = merged
        if not lazy_init:
            self.full_init()

    @staticmethod
    def _override_transforms(dataset_cfg: dict, overrides: Dict[str, dict]) -> dict:
        dataset_cfg = copy.deepcopy(dataset_cfg)
        for transform in dataset_cfg.get('pipeline', []):
            if isinstance(transform, dict) and transform.get('type') in overrides:
                transform.update(overrides[transform['type']])
        return dataset_cfg

    @property
    def metainfo(self) -> dict:
        """Merged metainfo (a copy) with ``task_metainfo``, ``dataset_metainfos`` and ``tasks``."""
        return copy.deepcopy(self._metainfo)

    @property
    def tasks(self) -> List[str]:
        """Task of each sub-dataset, in order."""
        return [dataset.task for dataset in self.datasets]

    def get_task(self, idx: int) -> str:
        """Task of sample ``idx`` (no loading)."""
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f'index {idx} out of range for a MultiTaskDataset of {len(self)}')
        return self.datasets[bisect.bisect_right(self.cumulative_sizes, idx)].task
