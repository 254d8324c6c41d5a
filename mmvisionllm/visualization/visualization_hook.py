"""``VisionLLMVisualizationHook``: draw test (and val) samples, as mmdet's ``DetVisualizationHook``.

Same arguments and switches as mmdet's hook (``draw``, ``interval``, ``score_thr``, ``show``,
``test_out_dir``); ``tools/test.py --show-dir DIR`` turns it on. mmdet's hook could not serve as
it is: it reads every image from ``img_path`` (a text-to-image sample has none) and names the
output by the file's base name, so the det, seg, grounding and pose samples of one ShapesWorld
image would overwrite each other. Here the picture of test sample ``i`` of task ``t`` is
``<work_dir>/<timestamp>/<DIR>/<t>/<i:06d>_<image name>.png``: one per sample, every task.
The image drawn under the predictions is the file at ``img_path`` (original coordinates, like the
predictions), or the packed decoder view resized to ``ori_shape`` when there is no file.
"""
import os.path as osp
from typing import Dict, Optional, Sequence

import mmcv
import mmengine.fileio as fileio
from mmengine.hooks import Hook
from mmengine.visualization import Visualizer

from mmvisionllm.registry import HOOKS
from .vision_llm_visualizer import to_rgb_array

__all__ = ['VisionLLMVisualizationHook']


@HOOKS.register_module()
class VisionLLMVisualizationHook(Hook):
    """Draw the predictions of every ``interval``-th test sample with the runner's visualizer.

    Args:
        draw (bool): Draw at all. Defaults to False (``tools/test.py --show-dir`` sets it).
        interval (int): Draw every ``interval``-th validation batch; test samples are all drawn
            when ``test_out_dir`` is set. Defaults to 1.
        score_thr (float): Predictions scoring less are not drawn. Defaults to 0.3.
        show (bool): Show the pictures in a window. Defaults to False.
        wait_time (float): Seconds a shown picture stays. Defaults to 0.
        draw_gt (bool): Also draw the ground truth. Defaults to True.
        test_out_dir (str, optional): Folder (under ``<work_dir>/<timestamp>`` unless absolute)
            of the test pictures.
        backend_args (dict, optional): File backend arguments for reading ``img_path``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 draw: bool = False,
                 interval: int = 1,
                 score_thr: float = 0.3,
                 show: bool = False,
                 wait_time: float = 0.,
                 draw_gt: bool = True,
                 test_out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        self.draw = draw
        self.interval = interval
        self.score_thr = score_thr
        self.show = show
        self.wait_time = wait_time
        self.draw_gt = draw_gt
        self.test_out_dir = test_out_dir
        self.backend_args = backend_args
        self._counts: Dict[str, int] = {}

    def _image(self, inputs: dict, sample):
        path = sample.metainfo.get('img_path')
        if path:
            data = fileio.get(path, backend_args=self.backend_args)
            return mmcv.imfrombytes(data, channel_order='rgb')
        view = to_rgb_array((inputs or {}).get('image'))
        if view is None:
            return None
        ori = sample.metainfo.get('ori_shape')
        if ori and tuple(ori[:2]) != view.shape[:2]:
            view = mmcv.imresize(view, (int(ori[1]), int(ori[0])))
        return view

    def _draw_batch(self, runner, data_batch: dict, outputs: Sequence, out_dir: Optional[str],
                    step: int) -> None:
        visualizer: Visualizer = Visualizer.get_current_instance()
        inputs_all = data_batch.get('inputs') or {}
        for i, sample in enumerate(outputs):
            # pseudo_collate keeps a dict of per-sample lists; default_collate a list of dicts
            inputs = {k: v[i] for k, v in inputs_all.items()} if isinstance(inputs_all, dict) \
                else inputs_all[i]
            task = sample.metainfo.get('task', 'sample')
            index = self._counts.get(task, 0)
            self._counts[task] = index + 1
            image = self._image(inputs, sample)
            out_file = None
            if out_dir is not None:
                base = osp.splitext(osp.basename(sample.metainfo.get('img_path') or ''))[0]
                name = f'{index:06d}' + (f'_{base}' if base else '') + '.png'
                out_file = osp.join(out_dir, task, name)
            visualizer.add_datasample(
                f'{task}_{index}',
                image,
                data_sample=sample,
                draw_gt=self.draw_gt,
                show=self.show,
                wait_time=self.wait_time,
                pred_score_thr=self.score_thr,
                out_file=out_file,
                step=step)

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict, outputs: Sequence) -> None:
        """Draw every ``interval``-th validation batch (to the visualisation backends)."""
        if self.draw and batch_idx % self.interval == 0:
            self._draw_batch(runner, data_batch, outputs, None, runner.iter)

    def before_test(self, runner) -> None:
        """Reset the per-task sample counters."""
        self._counts = {}

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict, outputs: Sequence) -> None:
        """Draw every test sample (into ``test_out_dir`` when set)."""
        if not self.draw:
            return
        out_dir = None
        if self.test_out_dir is not None:
            out_dir = self.test_out_dir if osp.isabs(self.test_out_dir) else osp.join(
                runner.work_dir, runner.timestamp, self.test_out_dir)
        self._draw_batch(runner, data_batch, outputs, out_dir, batch_idx)
