"""Run any metric (mmdet's, mmpose's, ours) on the samples of some tasks only.

One test loader may mix tasks (detection, pose, VQA ...); each metric of the evaluator is wrapped so
that it sees only its tasks' samples, and mmdet's / mmpose's metrics run unchanged.
"""
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.evaluator import BaseMetric

from mmvisionllm.registry import METRICS

__all__ = ['TaskFilteredMetric']


@METRICS.register_module()
class TaskFilteredMetric(BaseMetric):
    """Forward to ``metric`` only the data samples whose ``task`` is in ``tasks``.

    The wrapped metric is evaluated with the number of kept samples over all ranks, so nothing is
    truncated. That count is right when every sample is tested once, as ``TaskGroupedBatchSampler``
    tests them (each rank its ``rank::world_size`` share, no padding); with mmengine's
    ``DefaultSampler`` on several GPUs, the samples it repeats to even out the ranks would be
    counted twice, so test with ``TaskGroupedBatchSampler``, as every config of this repository
    does.

    Args:
        metric (dict | BaseMetric): The wrapped metric or its config, e.g.
            ``dict(type='mmdet.CocoMetric', ann_file=..., prefix='det')``.
        tasks (str | Sequence[str]): The task names to keep, e.g. ``['det']``.
    """

    def __init__(self, metric: Union[dict, BaseMetric], tasks: Union[str, Sequence[str]]) -> None:
        self.metric = metric if isinstance(metric, BaseMetric) else METRICS.build(metric)
        super().__init__(collect_device=self.metric.collect_device, prefix=self.metric.prefix)
        self.tasks = {tasks} if isinstance(tasks, str) else set(tasks)
        self.num_samples = 0

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self.metric.dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        """Hand the wrapped metric its own task's metainfo when a ``MultiTaskDataset`` provides it
        (``task_metainfo``: the classes of detection, the sigmas of pose ...)."""
        per_task = (dataset_meta or {}).get('task_metainfo', {})
        own = [per_task[task] for task in sorted(self.tasks) if task in per_task]
        self.metric.dataset_meta = own[0] if own else dataset_meta

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        kept = [s for s in data_samples if s.get('task') in self.tasks]
        if kept:
            self.metric.process(data_batch, kept)
            self.num_samples += len(kept)

    def compute_metrics(self, results: List) -> Dict[str, float]:
        raise NotImplementedError('TaskFilteredMetric delegates evaluate() to its wrapped metric')

    def evaluate(self, size: int) -> Dict[str, float]:
        """Evaluate the wrapped metric on the kept samples (``size``, over all tasks, is unused)."""
        count = torch.tensor(self.num_samples)
        if get_world_size() > 1:
            all_reduce(count)
        if int(count) == 0:
            raise RuntimeError(
                f'{type(self.metric).__name__} for tasks {sorted(self.tasks)} received no sample: '
                'the test set has none of these tasks (check the dataset and evaluator configs)')
        self.num_samples = 0
        return self.metric.evaluate(int(count))
