"""The declaration of the ``count`` task: group, routing token, templates, ground-truth key.

Every word of the templates is in the ShapesWorld word-level vocabulary (a word outside it is an
error when the sample is tokenised).
"""
from mmvisionllm.datasets import register_task

__all__ = ['COUNT_TASK']

COUNT_TASK = register_task(
    'count',
    group='count',
    routing_tokens=('[CNT]', ),
    templates=(
        'Please give the number of each of the following objects in the image: {classes}.',
        'How many of each of these categories are there: {classes}?',
        'Give me the number of every instance of these categories in the picture: {classes}.',
    ),
    # name -> number of instances in the image, for every target name of the sample
    gt_keys=('gt_counts', ))
