"""The multimodal data sample that flows from the datasets through VisionLLMv2 into the metrics.

It extends mmdet's ``DetDataSample`` (so mmdet's ``CocoMetric``/``RefExpMetric`` and visualiser read
it unchanged: ``gt_instances``, ``pred_instances``, ``img_id``, ``ori_shape`` ...) with the fields
of the conversation and of the super link. mmpose's metric reads the same ``pred_instances`` fields
(``keypoints``, ``keypoint_scores``) from it.

Fields (data):
    gt_instances (InstanceData): decoder ground truth in the decoder image view's coordinates:
        ``bboxes`` [n, 4] xyxy, ``labels`` [n] (index into ``target_names``), optionally ``masks``
        (mmdet ``BitmapMasks``), ``keypoints`` [n, K, 2], ``keypoints_visible`` [n, K].
    pred_instances (InstanceData): decoder predictions in original image coordinates.
    gt_image / pred_image (Tensor): [3, H, W] uint8 images of the generation/editing tasks.

Fields (metainfo):
    task (str): the task name, e.g. ``'det'``, ``'grd'``, ``'seg'``, ``'pose'``, ``'gen'``,
        ``'edit'``, ``'vqa'``, ``'caption'``, ``'region'``.
    conversation (list[dict]): LLaVA-style turns ``{'from': 'human'|'gpt', 'value': str}``; the
        image placeholder is ``<image>``, region placeholders are ``<region>``, and routing tokens
        (``[DET]``...) appear in the answers where a decoder must be called.
    target_names (list[str]): one name per routing token in the answer, in order (class names for
        detection, the referring expression for grounding).
    regions (list): box/mask prompts for the ``<region>`` placeholders, in order.
    pred_text (str): the generated answer (prediction).
"""
from mmdet.structures import DetDataSample

__all__ = ['MMDataSample']


class MMDataSample(DetDataSample):
    """A :class:`DetDataSample` that also carries a conversation and the super-link targets.

    Metainfo keys are read as attributes (``sample.task``, ``sample.conversation``), as for every
    MMEngine ``BaseDataElement``; use ``sample.metainfo.get(key, default)`` for optional ones.
    """
