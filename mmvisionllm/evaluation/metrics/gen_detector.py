"""The detector behind the GenEval-style metrics: a trained ShapesWorld mmdet model.

Reused: mmdet's ``init_detector`` (builds the model from its config and loads the checkpoint with
mmengine) and ``inference_detector`` (runs the config's test pipeline with
``LoadImageFromNDArray``), so the detection specialist's own config + checkpoint are used unchanged.

Detector interface (what the metrics call; a test oracle may implement the same):
    ``classes``: the class name of each label;
    ``__call__(images)``: ``images`` is a list of [H, W, 3] uint8 RGB arrays; returns one dict per
    image with numpy ``bboxes`` [n, 4] (xyxy, image pixels), ``labels`` [n], ``scores`` [n] and,
    when the model predicts masks, ``masks`` [n, H, W] bool.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmvisionllm.registry import TASK_UTILS

__all__ = ['MMDetShapesDetector', 'VisionLLMShapesDetector', 'build_gen_detector']


@TASK_UTILS.register_module()
class MMDetShapesDetector:
    """An mmdet detector (config + checkpoint) behind the detector interface.

    Args:
        config (str): Path of the detector's mmdet config.
        checkpoint (str): Path of its checkpoint.
        device (str): Device to run on. Defaults to ``'cpu'``.
        channel_order (str): Channel order the model's pipeline expects from an image array:
            ``'bgr'`` (what ``mmcv.imread`` / ``LoadImageFromFile`` give, the mmdet default) or
            ``'rgb'``. Defaults to ``'bgr'``.
        batch_size (int): Images per ``inference_detector`` call. Defaults to 8.
        cfg_options (dict, optional): Overrides merged into the config.
    """

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 device: str = 'cpu',
                 channel_order: str = 'bgr',
                 batch_size: int = 8,
                 cfg_options: Optional[dict] = None) -> None:
        for key, path in (('config', config), ('checkpoint', checkpoint)):
            if not osp.isfile(str(path)):
                raise FileNotFoundError(f'detector.{key}: file {path!r} does not exist')
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f'channel_order must be "bgr" or "rgb", got {channel_order!r}')
        from mmdet.apis import init_detector

        from mmvisionllm.utils import allow_mmengine_checkpoint_types
        allow_mmengine_checkpoint_types()  # our checkpoints hold mmengine's logging objects
        self.model = init_detector(config, checkpoint, device=device, cfg_options=cfg_options)
        self.classes = tuple(self.model.dataset_meta['classes'])
        # inference_detector builds the config's test pipeline in the current default scope; a
        # config whose dataset says `_scope_='mmdet'` (plain mmdet transforms) needs that scope.
        test_dataset = self.model.cfg.get('test_dataloader', {}).get('dataset', {})
        self.scope = test_dataset.get('_scope_') or self.model.cfg.get('default_scope') or 'mmdet'
        self.channel_order = channel_order
        self.batch_size = int(batch_size)

    def __call__(self, images: Sequence[np.ndarray]) -> List[Dict[str, np.ndarray]]:
        """Detect objects in RGB uint8 images [H, W, 3] (see the module docstring)."""
        from mmdet.apis import inference_detector
        from mmengine.registry import DefaultScope
        arrays = [np.ascontiguousarray(img[..., ::-1] if self.channel_order == 'bgr' else img)
                  for img in images]
        results = []
        for start in range(0, len(arrays), self.batch_size):
            batch = arrays[start:start + self.batch_size]
            with DefaultScope.overwrite_default_scope(self.scope):
                samples = inference_detector(self.model, batch)
            for sample in samples:
                pred = sample.pred_instances
                out = dict(
                    bboxes=pred.bboxes.detach().cpu().numpy(),
                    labels=pred.labels.detach().cpu().numpy(),
                    scores=pred.scores.detach().cpu().numpy())
                if 'masks' in pred:
                    masks = pred.masks
                    masks = masks.to_ndarray() if hasattr(masks, 'to_ndarray') else \
                        masks.detach().cpu().numpy()
                    out['masks'] = masks.astype(bool)
                results.append(out)
        return results


@TASK_UTILS.register_module()
class VisionLLMShapesDetector:
    """A VisionLLMv2 (config + checkpoint) with a detection decoder behind the detector interface.

    Each image gets the detection instruction for all ``classes`` (the dataset's test phrasing);
    every ``[DET]`` link the model emits after a class name contributes that target's instances,
    labelled by the class name's index in ``classes``.

    Args:
        config (str): Path of the VisionLLMv2 config.
        checkpoint (str): Path of its checkpoint.
        classes (Sequence[str], optional): Class names to ask for. Defaults to ShapesWorld's.
        device (str): Device to run on. Defaults to ``'cpu'``.
        clip_view (dict, optional): The CLIP-view transform of the model's training pipeline, e.g.
            ``dict(type='DynamicTiling', tile_size=64, max_tiles=4)``; None feeds the image as one
            thumbnail tile.
        template_index (int): Which detection phrasing to use. Defaults to 0 (the test phrasing).
    """

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 classes: Optional[Sequence[str]] = None,
                 device: str = 'cpu',
                 clip_view: Optional[dict] = None,
                 template_index: int = 0) -> None:
        for key, path in (('config', config), ('checkpoint', checkpoint)):
            if not osp.isfile(str(path)):
                raise FileNotFoundError(f'detector.{key}: file {path!r} does not exist')
        from mmvisionllm.apis import VisionLLMInferencer
        from mmvisionllm.datasets.instruction_templates import format_instruction
        from mmvisionllm.datasets.shapesworld.world_spec import CATEGORY_NAMES
        from mmvisionllm.registry import TRANSFORMS
        self.classes = tuple(classes or CATEGORY_NAMES)
        self.inferencer = VisionLLMInferencer(config, checkpoint, device=device)
        self.clip_view = TRANSFORMS.build(clip_view) if clip_view is not None else None
        self.prompt = format_instruction('det', template_index, classes=', '.join(self.classes))

    def _inputs(self, image: np.ndarray):
        if self.clip_view is None:
            return image
        import torch
        tiles = self.clip_view(dict(img=image))['clip_img']  # [T, S, S, 3]
        return dict(
            clip=torch.from_numpy(tiles).permute(0, 3, 1, 2).contiguous(),
            image=torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous())

    def __call__(self, images: Sequence[np.ndarray]) -> List[Dict[str, np.ndarray]]:
        """Detect objects in RGB uint8 images [H, W, 3] (see the module docstring)."""
        results = []
        for image in images:
            reply = self.inferencer.chat(self._inputs(image), self.prompt)[0]
            boxes, labels, scores, masks = [], [], [], []
            for link in reply.links:
                if link.routing_token != '[DET]' or link.target_name not in self.classes:
                    continue
                pred = link.prediction
                boxes.append(pred.bboxes.detach().cpu().numpy().reshape(-1, 4))
                scores.append(pred.scores.detach().cpu().numpy().reshape(-1))
                labels.append(np.full(len(scores[-1]), self.classes.index(link.target_name)))
                if 'masks' in pred:
                    masks.append(np.asarray(pred.masks.detach().cpu().numpy(), dtype=bool))
            out = dict(
                bboxes=np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32),
                labels=np.concatenate(labels) if labels else np.zeros((0, ), np.int64),
                scores=np.concatenate(scores) if scores else np.zeros((0, ), np.float32))
            if masks and len(masks) == len(boxes):
                out['masks'] = np.concatenate(masks)
            results.append(out)
        return results


def build_gen_detector(detector):
    """Build a detector from a config dict (``TASK_UTILS``), or return a ready detector object."""
    if isinstance(detector, dict):
        return TASK_UTILS.build(detector)
    if not (callable(detector) and hasattr(detector, 'classes')):
        raise TypeError('detector must be a config dict or an object with `classes` and __call__')
    return detector
