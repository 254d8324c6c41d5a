"""Pack a pipeline result into the model input of docs/en/architecture.md section 1.

Like mmdet's ``PackDetInputs`` (same ``gt_*`` → ``gt_instances`` mapping and ignore-flag split into
``ignored_instances``) but with two image views, keypoints, a target image and the conversation
metainfo, into an :class:`MMDataSample`. Images leave the pipeline as **RGB** uint8 tensors
(mmcv/mmdet transforms work on BGR; ``bgr_to_rgb`` flips once here).
"""
from typing import Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.structures.bbox import BaseBoxes
from mmengine.structures import InstanceData

from ...registry import TRANSFORMS
from ...structures import MMDataSample
from ..task_registry import TASKS

__all__ = ['PackMultimodalInputs', 'DEFAULT_META_KEYS']

#: Metainfo copied when present in the results.
DEFAULT_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                     'flip_direction', 'task', 'conversation', 'target_names', 'target_label_ids',
                     'regions', 'dataset_name', 'clip_grid', 'id', 'original_img_id', 'sample_id',
                     'question_id', 'gt_answers', 'question_type', 'answer_type', 'gt_captions',
                     'caption', 'edit_instruction', 'target_img_path', 'num_keypoints', 'gt_tags')

_INSTANCE_KEYS = {
    'gt_bboxes': ('bboxes', torch.float32),
    'gt_bboxes_labels': ('labels', torch.int64),
    'gt_masks': ('masks', None),
    'gt_keypoints': ('keypoints', torch.float32),
    'gt_keypoints_visible': ('keypoints_visible', torch.float32),
}


def _image_to_tensor(image: np.ndarray, bgr_to_rgb: bool, name: str) -> torch.Tensor:
    """[..., H, W, C] uint8 array → [..., C, H, W] uint8 tensor."""
    if image.dtype != np.uint8:
        raise TypeError(f'PackMultimodalInputs expects uint8 {name}, got {image.dtype}')
    if bgr_to_rgb and image.shape[-1] == 3:
        image = image[..., ::-1]
    tensor = torch.from_numpy(np.ascontiguousarray(image))
    return tensor.movedim(-1, -3).contiguous()


@TRANSFORMS.register_module()
class PackMultimodalInputs(BaseTransform):
    """Pack into ``dict(inputs=dict(clip=..., image=...), data_samples=MMDataSample)``.

    ``inputs['clip']``: uint8 [T, 3, S, S] from ``clip_img`` or None; ``inputs['image']``: uint8
    [3, H, W] from ``img`` or None. ``gt_instances``: ``bboxes`` [n, 4] float32 xyxy, ``labels`` [n]
    int64, ``masks`` (``BitmapMasks``), ``keypoints`` [n, K, 2], ``keypoints_visible`` [n, K]
    (whichever were loaded; instances with the ignore flag go to ``ignored_instances``).
    ``gt_image``: uint8 [3, H, W] from ``gt_image``. Metainfo: ``meta_keys`` present in the results
    plus ``link_tokens`` (the routing token of each target, empty for text tasks).

    Ground truth a plugin adds reaches its decoder: the ``gt_keys`` its task declares
    (``register_task``) and ``extra_meta_keys`` are copied too. A ``gt_*`` key of the results
    that nothing here packs is an error naming the sample, never dropped without a word.

    Args:
        meta_keys (Sequence[str]): Keys copied to the metainfo when present.
        bgr_to_rgb (bool): Flip the channel order of every image. Defaults to True.
        extra_meta_keys (Sequence[str]): More keys copied to the metainfo when present (on top
            of ``meta_keys`` and the task's declared ``gt_keys``).
    """

    def __init__(self,
                 meta_keys: Sequence[str] = DEFAULT_META_KEYS,
                 bgr_to_rgb: bool = True,
                 extra_meta_keys: Sequence[str] = ()) -> None:
        self.meta_keys = tuple(meta_keys) + tuple(k for k in extra_meta_keys if k not in meta_keys)
        self.bgr_to_rgb = bgr_to_rgb

    def _unpacked_gt_keys(self, results: dict, meta_keys: Sequence[str]) -> list:
        packed = set(meta_keys) | set(_INSTANCE_KEYS) | {'gt_ignore_flags', 'gt_image'}
        return sorted(k for k in results if k.startswith('gt_') and k not in packed)

    def _instances(self, results: dict, keep: Optional[np.ndarray]) -> InstanceData:
        instances = InstanceData()
        for key, (field, dtype) in _INSTANCE_KEYS.items():
            if results.get(key) is None:
                continue
            value = results[key]
            if isinstance(value, BaseBoxes):
                value = value.tensor
            if keep is not None:
                value = value[keep]
            if dtype is not None:
                value = torch.as_tensor(
                    np.asarray(value) if not torch.is_tensor(value) else value, dtype=dtype)
            instances[field] = value
        return instances

    def transform(self, results: dict) -> dict:
        """Pack one sample."""
        clip = results.get('clip_img')
        image = results.get('img')
        inputs = {
            'clip':
            _image_to_tensor(clip, self.bgr_to_rgb, 'clip_img') if clip is not None else None,
            'image': _image_to_tensor(image, self.bgr_to_rgb, 'img') if image is not None else None,
        }
        data_sample = MMDataSample()
        flags = results.get('gt_ignore_flags')
        if flags is not None:
            flags = np.asarray(flags, dtype=bool)
            data_sample.gt_instances = self._instances(results, np.flatnonzero(~flags))
            data_sample.ignored_instances = self._instances(results, np.flatnonzero(flags))
        else:
            data_sample.gt_instances = self._instances(results, None)
        if results.get('gt_image') is not None:
            data_sample.gt_image = _image_to_tensor(results['gt_image'], self.bgr_to_rgb,
                                                    'gt_image')
        task = results.get('task')
        spec = TASKS.get(task) if task is not None else None
        meta_keys = self.meta_keys + (spec.gt_keys if spec is not None else ())
        unpacked = self._unpacked_gt_keys(results, meta_keys)
        if unpacked:
            raise KeyError(
                f'PackMultimodalInputs: sample {results.get("img_path", results.get("img_id"))!r} '
                f'(task={task!r}) has ground truth {unpacked} that would be dropped; declare it '
                "in the task's gt_keys (register_task) or PackMultimodalInputs(extra_meta_keys=)")
        metainfo = {key: results[key] for key in meta_keys if key in results}
        token = spec.routing_token if spec is not None else None
        metainfo['link_tokens'] = [token] * len(results.get('target_names', [])) if token else []
        data_sample.set_metainfo(metainfo)
        return {'inputs': inputs, 'data_samples': data_sample}

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys}, bgr_to_rgb={self.bgr_to_rgb})'
