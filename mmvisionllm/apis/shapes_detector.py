"""The generalist as a GenEval-style judge: a VisionLLMv2 detecting objects through chat.

It implements the detector interface of ``mmvisionllm.evaluation.metrics.gen_detector`` (``classes``
and ``__call__(images)``), so the generation/editing metrics can build it from a config dict
(``TASK_UTILS``). It lives in ``apis`` because it drives a whole model through
``VisionLLMInferencer``; evaluation must not import apis.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmvisionllm.registry import TASK_UTILS
from .inferencer import VisionLLMInferencer

__all__ = ['VisionLLMShapesDetector']


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
