"""The detector behind the GenEval-style metrics: a trained ShapesWorld mmdet model.

Reused: mmdet's ``init_detector`` (builds the model from its config and loads the checkpoint with
mmengine) and ``inference_detector`` (runs the config's test pipeline with
``LoadImageFromNDArray``), so the detection specialist's own config + checkpoint are used unchanged.

Detector interface (what the metrics call; a test oracle may implement the same):
    ``classes``: the class name of each label;
    ``__call__(images)``: ``images`` is a list of [H, W, 3] uint8 RGB arrays; returns one dict per
    image with numpy ``bboxes`` [n, 4] (xyxy, image pixels), ``labels`` [n], ``scores`` [n] and,
    when the model predicts masks, ``masks`` [n, H, W] bool.

The generalist itself as a judge (``VisionLLMShapesDetector``) lives in ``mmvisionllm.apis``: it
runs a whole VisionLLMv2 through the inferencer, and evaluation sits below apis in the package
graph. Metrics build either from a config dict through ``TASK_UTILS``.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmvisionllm.registry import TASK_UTILS

__all__ = ['MMDetShapesDetector', 'build_gen_detector']


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
        arrays = [
            np.ascontiguousarray(img[..., ::-1] if self.channel_order == 'bgr' else img)
            for img in images
        ]
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


def build_gen_detector(detector):
    """Build a detector from a config dict (``TASK_UTILS``), or return a ready detector object."""
    if isinstance(detector, dict):
        return TASK_UTILS.build(detector)
    if not (callable(detector) and hasattr(detector, 'classes')):
        raise TypeError('detector must be a config dict or an object with `classes` and __call__')
    return detector
