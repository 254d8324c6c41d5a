"""TaskFilteredMetric hands a wrapped metric only its tasks' samples, and fails on none."""
import pytest

from mmvisionllm.evaluation.metrics import TaskFilteredMetric
from mmvisionllm.registry import METRICS


def test_only_selected_tasks_reach_the_wrapped_metric():
    metric = METRICS.build(
        dict(
            type='TaskFilteredMetric',
            tasks=['vqa'],
            metric=dict(type='VQAAccuracy', prefix='shapes_vqa')))
    metric.dataset_meta = dict(classes=('a', ))
    assert metric.metric.dataset_meta == dict(classes=('a', ))
    metric.process(
        {},
        [
            dict(task='vqa', pred_text='yes', gt_answers=['yes']),
            dict(task='det', pred_instances=dict()),  # would make VQAAccuracy raise if forwarded
            dict(task='vqa', pred_text='no', gt_answers=['yes']),
        ])
    assert metric.evaluate(size=3) == {'shapes_vqa/accuracy': 0.5}


def test_no_sample_of_the_task_is_an_error():
    metric = TaskFilteredMetric(metric=dict(type='VQAAccuracy'), tasks='vqa')
    metric.process({}, [dict(task='det')])
    with pytest.raises(RuntimeError, match=r"tasks \['vqa'\] received no sample"):
        metric.evaluate(size=1)


def test_wrapped_metric_gets_its_own_tasks_metainfo():
    metric = TaskFilteredMetric(metric=dict(type='VQAAccuracy'), tasks='pose')
    metric.dataset_meta = dict(
        classes=('circle', ),
        task_metainfo=dict(
            det=dict(classes=('circle', )), pose=dict(classes=('person', ), num_keypoints=13)))
    assert metric.metric.dataset_meta == dict(classes=('person', ), num_keypoints=13)
