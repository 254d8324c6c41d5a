"""``VisionLLMVisualizer``: one picture of what a VisionLLM v2 sample or chat reply holds.

Reused, not redrawn: mmdet's :class:`DetLocalVisualizer` draws boxes, labels, scores and instance
masks (``_draw_instances``, with ``label_names`` set to the targets the answer named); mmpose's
:class:`PoseLocalVisualizer` draws keypoints and the skeleton with the dataset's colours
(``_draw_instances_kpts``, its ``set_dataset_meta`` reads the mmpose metainfo); mmengine's
``Visualizer`` primitives draw the region prompts (``draw_bboxes`` / ``draw_binary_masks``) and
the conversation text (``draw_texts``). What this module adds is the layout none of them has:
panels side by side (input with the region prompts, ground truth, prediction per decoder,
generated / edited image beside its source and target) above the conversation, and the rescaling
of small (128 px) or huge images to a drawable size with their boxes, masks and keypoints.
"""
import sys
import textwrap
import types
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData

from mmvisionllm.registry import VISUALIZERS


def _import_pose_local_visualizer():
    """mmpose's ``PoseLocalVisualizer``; without torchvision (not a dependency of this project),
    the module of its SimCC heat-map drawer, which imports torchvision at import time and is only
    used to draw SimCC heat maps (never here), is replaced by a stub first."""
    try:
        from mmpose.visualization import PoseLocalVisualizer
    except ModuleNotFoundError as error:
        if error.name != 'torchvision':
            raise
        stub = types.ModuleType('mmpose.visualization.simcc_vis')
        stub.SimCCVisualizer = None  # needs torchvision; draws SimCC heat maps only
        sys.modules['mmpose.visualization.simcc_vis'] = stub
        from mmpose.visualization import PoseLocalVisualizer
    return PoseLocalVisualizer


PoseLocalVisualizer = _import_pose_local_visualizer()

__all__ = ['VisionLLMVisualizer', 'to_rgb_array']

SEPARATOR = 6  # white pixels between panels


def to_rgb_array(image) -> Optional[np.ndarray]:
    """uint8 [3, H, W] tensor (or [H, W, 3] array) -> [H, W, 3] uint8 RGB array."""
    if image is None:
        return None
    if torch.is_tensor(image):
        image = image.detach().cpu()
        image = image.permute(1, 2, 0).numpy() if image.ndim == 3 and image.shape[0] in (1, 3) \
            else image.numpy()
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8)


def _numpy(value) -> np.ndarray:
    if torch.is_tensor(value):
        return value.detach().cpu().numpy()
    if hasattr(value, 'to_ndarray'):  # mmdet BitmapMasks / PolygonMasks
        return value.to_ndarray()
    return np.asarray(value)


def _find_pose_meta(meta: dict) -> Optional[dict]:
    """The mmpose metainfo (``skeleton_links`` ...) of a dataset or of a MultiTaskDataset's task."""
    if not meta:
        return None
    if 'skeleton_links' in meta or 'keypoint_colors' in meta:
        return meta
    for task_meta in (meta.get('task_metainfo') or {}).values():
        if isinstance(task_meta, dict) and 'skeleton_links' in task_meta:
            return task_meta
    return None


@VISUALIZERS.register_module()
class VisionLLMVisualizer(DetLocalVisualizer):
    """Draw a VisionLLM v2 data sample (or the decoder outputs of a chat reply).

    A picture is a row of panels above the conversation text: the input image with its region
    prompts, then per drawn :class:`InstanceData` (``gt_instances`` and ``pred_instances`` of a
    test sample, or each decoder group's output of a reply) the image with its boxes, labels,
    scores and masks (mmdet) and keypoints with the skeleton (mmpose), then ``pred_image`` /
    ``gt_image`` of generation and editing. Labels are the target names of the answer
    (``target_names`` metainfo; the instance ``labels`` index them).

    Args:
        name (str): Instance name. Defaults to ``'visualizer'``.
        image (np.ndarray, optional): Initial image.
        vis_backends (list[dict], optional): mmengine visualisation backends.
        save_dir (str, optional): Backend save directory.
        bbox_color, text_color, mask_color: As in mmdet's ``DetLocalVisualizer``.
        line_width (int | float): Box and skeleton line width. Defaults to 2.
        alpha (float): Box and mask opacity. Defaults to 0.6.
        kpt_radius (int): Keypoint radius. Defaults to 3.
        kpt_thr (float): Keypoint score below which a keypoint is not drawn. Defaults to 0.3.
        min_side (int): Images whose longer side is shorter are upscaled to it before drawing
            (a 128 px scene would not hold readable labels). Defaults to 384.
        max_side (int): Images whose longer side is longer are downscaled to it. Defaults to 1024.
        font_size (int): Font size of the conversation text. Defaults to 12.
        max_text_lines (int): Lines of conversation text at most. Defaults to 14.
        pose_metainfo (dict | str, optional): mmpose metainfo (or ``dict(from_file=...)``) for
            the keypoint colours and skeleton when no dataset sets ``dataset_meta``.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 bbox_color=None,
                 text_color=(200, 200, 200),
                 mask_color=None,
                 line_width: float = 2,
                 alpha: float = 0.6,
                 kpt_radius: int = 3,
                 kpt_thr: float = 0.3,
                 min_side: int = 384,
                 max_side: int = 1024,
                 font_size: int = 12,
                 max_text_lines: int = 14,
                 pose_metainfo: Optional[dict] = None) -> None:
        self.pose_visualizer = PoseLocalVisualizer(
            name=f'{name}_pose', line_width=line_width, radius=kpt_radius, alpha=1.0)
        super().__init__(
            name=name,
            image=image,
            vis_backends=vis_backends,
            save_dir=save_dir,
            bbox_color=bbox_color,
            text_color=text_color,
            mask_color=mask_color,
            line_width=line_width,
            alpha=alpha)
        self.kpt_thr = kpt_thr
        self.min_side = min_side
        self.max_side = max_side
        self.font_size = font_size
        self.max_text_lines = max_text_lines
        if pose_metainfo is not None:
            from mmpose.datasets.datasets.utils import parse_pose_metainfo
            self.pose_visualizer.set_dataset_meta(parse_pose_metainfo(pose_metainfo))

    # the runner sets ``dataset_meta``; the pose part takes the keypoint colours and skeleton
    @property
    def dataset_meta(self) -> dict:
        """The dataset metainfo (its pose part, or a pose task's, also goes to mmpose)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, meta: Optional[dict]) -> None:
        self._dataset_meta = meta or {}
        pose_meta = _find_pose_meta(self._dataset_meta)
        if pose_meta is not None:
            self.pose_visualizer.set_dataset_meta(pose_meta)

    # ------------------------------------------------------------------ geometry
    def _fit(self, image: np.ndarray) -> Tuple[np.ndarray, float]:
        """The image at a drawable size and the factor applied to it."""
        side = max(image.shape[:2])
        factor = 1.0
        if side < self.min_side:
            factor = self.min_side / side
        elif side > self.max_side:
            factor = self.max_side / side
        if factor == 1.0:
            return image, factor
        size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
        interpolation = 'nearest' if factor > 1 else 'area'
        return mmcv.imresize(image, size, interpolation=interpolation), factor

    @staticmethod
    def _scaled(instances: InstanceData, factor: float, shape: Tuple[int, int],
                names: Sequence[str]) -> InstanceData:
        """Numpy copy of the drawable fields, in the coordinates of the fitted image."""
        out = InstanceData()
        num = len(instances)
        labels = _numpy(instances.labels).astype(np.int64) if 'labels' in instances else \
            np.arange(num, dtype=np.int64)
        out.labels = labels
        out.label_names = [
            str(names[i]) if 0 <= i < len(names) else f'target {i}' for i in labels.tolist()
        ]
        if 'scores' in instances:
            out.scores = _numpy(instances.scores).astype(np.float32)
        if 'bboxes' in instances:
            boxes = _numpy(instances.bboxes).astype(np.float32).reshape(-1, 4) * factor
            # drawn with ordered corners (a decoder may emit x1 > x2; the values are not changed)
            out.bboxes = np.concatenate(
                [np.minimum(boxes[:, :2], boxes[:, 2:]),
                 np.maximum(boxes[:, :2], boxes[:, 2:])],
                axis=1)
        if 'masks' in instances:
            masks = _numpy(instances.masks).astype(np.uint8)
            out.masks = np.stack([
                cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) for m in masks
            ]).astype(bool) if len(masks) else np.zeros((0, ) + tuple(shape), bool)
        if 'keypoints' in instances:
            out.keypoints = _numpy(instances.keypoints).astype(np.float32) * factor
            visible = instances.get('keypoint_scores', instances.get('keypoints_visible'))
            out.keypoints_visible = np.ones(out.keypoints.shape[:2], np.float32) \
                if visible is None else _numpy(visible).astype(np.float32)
        return out

    @staticmethod
    def _confident(instances: InstanceData, score_thr: Optional[float]) -> InstanceData:
        if score_thr is None or 'scores' not in instances or len(instances) == 0:
            return instances
        keep = _numpy(instances.scores) >= score_thr
        return instances[torch.as_tensor(keep)] if torch.is_tensor(instances.scores) else \
            instances[keep]

    # ------------------------------------------------------------------ panels
    def draw_instances(self,
                       image: np.ndarray,
                       instances: InstanceData,
                       names: Sequence[str],
                       score_thr: Optional[float] = None) -> np.ndarray:
        """Boxes, labels, scores and masks (mmdet) and keypoints + skeleton (mmpose).

        Args:
            image (np.ndarray): [H, W, 3] uint8 RGB in the coordinates of ``instances``.
            instances (InstanceData): ``bboxes`` [n, 4] xyxy, ``labels`` [n] (indices into
                ``names``), optionally ``scores`` [n], ``masks`` [n, H, W], ``keypoints``
                [n, K, 2] with ``keypoint_scores`` / ``keypoints_visible`` [n, K].
            names (Sequence[str]): The target names the labels index.
            score_thr (float, optional): Instances scoring less are not drawn.

        Returns:
            np.ndarray: The drawn image (fitted size, see ``min_side`` / ``max_side``).
        """
        fitted, factor = self._fit(image)
        instances = self._scaled(
            self._confident(instances, score_thr), factor, fitted.shape[:2], names)
        drawn = self._draw_instances(fitted, instances, None, None) if len(instances) else fitted
        if 'keypoints' in instances and len(instances):
            drawn = self.pose_visualizer._draw_instances_kpts(drawn, instances, self.kpt_thr)
        return drawn

    def draw_regions(self, image: np.ndarray, regions: Sequence) -> np.ndarray:
        """The ``<region>`` prompts (boxes xyxy or bool masks [H, W]) on the fitted image."""
        fitted, factor = self._fit(image)
        if not len(regions):
            return fitted
        self.set_image(fitted)
        for k, region in enumerate(regions):
            region = _numpy(region)
            if region.ndim == 1:
                box = region.astype(np.float32).reshape(1, 4) * factor
            else:
                mask = cv2.resize(
                    region.astype(np.uint8), (fitted.shape[1], fitted.shape[0]),
                    interpolation=cv2.INTER_NEAREST).astype(bool)
                self.draw_binary_masks(mask[None], colors=[(255, 200, 0)], alphas=0.35)
                ys, xs = np.nonzero(mask)
                if not len(xs):
                    continue
                box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
            self.draw_bboxes(box, edge_colors=(255, 200, 0), line_widths=self.line_width + 1)
            self.draw_texts(
                f'<region {k + 1}>',
                box[0, :2] + 2,
                colors='black',
                font_sizes=self.font_size,
                bboxes=[dict(facecolor=(1.0, 0.8, 0.0), alpha=0.8, pad=0.5, edgecolor='none')])
        return self.get_image()

    def text_panel(self, lines: Sequence[str], width: int) -> np.ndarray:
        """``lines`` wrapped to ``width`` pixels on white (mmengine's ``draw_texts``)."""
        chars = max(10, int(width / (0.8 * self.font_size)))
        wrapped: List[str] = []
        for line in lines:
            wrapped.extend(textwrap.wrap(line, chars) or [''])
        if len(wrapped) > self.max_text_lines:
            wrapped = wrapped[:self.max_text_lines - 1] + ['...']
        line_h = int(self.font_size * 1.5)
        canvas = np.full((line_h * len(wrapped) + 8, width, 3), 255, np.uint8)
        if not wrapped:
            return canvas
        self.set_image(canvas)
        positions = np.array([[4, 4 + i * line_h] for i in range(len(wrapped))])
        self.draw_texts(wrapped, positions, colors='black', font_sizes=self.font_size)
        return self.get_image()

    def compose(
        self, panels: Sequence[Tuple[str,
                                     np.ndarray]], text_lines: Sequence[str] = ()) -> np.ndarray:
        """Captioned panels side by side (same height) above the text lines."""
        height = max(p.shape[0] for _, p in panels) if panels else 0
        row = []
        for caption, panel in panels:
            if panel.shape[0] != height:
                width = max(1, round(panel.shape[1] * height / panel.shape[0]))
                panel = mmcv.imresize(panel, (width, height), interpolation='nearest')
            header = self.text_panel([caption], panel.shape[1])
            column = np.concatenate([header, panel])
            if row:
                row.append(np.full((column.shape[0], SEPARATOR, 3), 255, np.uint8))
            row.append(column)
        top = np.concatenate(row, axis=1) if row else np.zeros((0, 320, 3), np.uint8)
        text = self.text_panel(list(text_lines), max(top.shape[1], 320))
        if top.shape[1] < text.shape[1]:
            top = np.pad(
                top, ((0, 0), (0, text.shape[1] - top.shape[1]), (0, 0)), constant_values=255)
        return np.concatenate([top, text])

    def output_panels(self,
                      image: Optional[np.ndarray],
                      sample,
                      score_thr: Optional[float],
                      draw_gt: bool = False,
                      draw_pred: bool = True,
                      caption: str = 'prediction') -> List[Tuple[str, np.ndarray]]:
        """The panels of one sample's ground truth and/or predictions (no input panel)."""
        names = list(sample.metainfo.get('target_names') or [])
        panels = []
        for key, title, thr in (('gt_instances', 'ground truth', None), ('pred_instances', caption,
                                                                         score_thr)):
            wanted = draw_gt if key == 'gt_instances' else draw_pred
            if not wanted or image is None or key not in sample:
                continue
            instances = sample.get(key)
            if 'bboxes' not in instances and 'keypoints' not in instances:
                continue
            panels.append((title, self.draw_instances(image, instances, names, thr)))
        if draw_pred and sample.get('pred_image') is not None:
            tokens = set(sample.metainfo.get('link_tokens') or [])
            edited = '[EDIT]' in tokens or (image is not None and '[GEN]' not in tokens)
            title = caption if caption != 'prediction' else ('edited' if edited else 'generated')
            panels.append((title, self._fit(to_rgb_array(sample.pred_image))[0]))
        if draw_gt and sample.get('gt_image') is not None:
            panels.append(('target', self._fit(to_rgb_array(sample.gt_image))[0]))
        return panels

    @staticmethod
    def conversation_lines(sample, draw_gt: bool = True) -> List[str]:
        """The conversation of a data sample: user turns, the given answer, the model's answer."""
        lines = []
        for turn in sample.metainfo.get('conversation') or []:
            text = turn['value'].replace('<image>', '').strip()
            if turn['from'] == 'human':
                lines.append(f'user: {text}')
            elif draw_gt:
                lines.append(f'ground truth: {text}')
        if sample.metainfo.get('pred_text') is not None:
            lines.append(f'model: {sample.metainfo["pred_text"]}')
        tokens = sample.metainfo.get('link_tokens') or []
        if tokens:
            lines.append('decoders: ' + ', '.join(sorted(set(tokens))))
        return lines

    def draw_sample(self,
                    image: Optional[np.ndarray],
                    data_sample,
                    draw_gt: bool = True,
                    draw_pred: bool = True,
                    pred_score_thr: float = 0.3,
                    notes: Sequence[str] = ()) -> np.ndarray:
        """The picture of one data sample (see the class docstring).

        Args:
            image (np.ndarray, optional): [H, W, 3] uint8 RGB in original-image coordinates
                (None for text-to-image).
            data_sample (MMDataSample): With ``pred_instances`` / ``gt_instances`` /
                ``pred_image`` / ``gt_image`` and the conversation metainfo.
            draw_gt (bool): Draw the ground truth. Defaults to True.
            draw_pred (bool): Draw the predictions. Defaults to True.
            pred_score_thr (float): Predictions scoring less are not drawn. Defaults to 0.3.
            notes (Sequence[str]): Extra text lines under the conversation.

        Returns:
            np.ndarray: [H', W', 3] uint8 RGB.
        """
        panels = []
        if image is not None:
            regions = data_sample.metainfo.get('regions') or []
            panels.append(('input' if not len(regions) else 'input + region prompts',
                           self.draw_regions(image, regions)))
        panels += self.output_panels(image, data_sample, pred_score_thr, draw_gt, draw_pred)
        return self.compose(panels, self.conversation_lines(data_sample, draw_gt) + list(notes))

    def draw_reply(self,
                   image: Optional[np.ndarray],
                   outputs: Dict[str, object],
                   text_lines: Sequence[str],
                   regions: Sequence = (),
                   pred_score_thr: float = 0.3) -> np.ndarray:
        """The picture of one chat reply: the input with its region prompts, one panel per
        decoder group that answered (captioned with its routing tokens), the conversation.

        Args:
            image (np.ndarray, optional): [H, W, 3] uint8 RGB original image.
            outputs (dict[str, MMDataSample]): Group -> decoder output (``ChatReply``'s
                ``decoder_outputs``).
            text_lines (Sequence[str]): The conversation lines to print.
            regions (Sequence): Region prompts (boxes xyxy or bool masks, original pixels).
            pred_score_thr (float): Predictions scoring less are not drawn. Defaults to 0.3.
        """
        panels = []
        if image is not None:
            panels.append(('input' if not len(regions) else 'input + region prompts',
                           self.draw_regions(image, regions)))
        for group, sample in outputs.items():
            tokens = sorted(set(sample.metainfo.get('link_tokens') or []))
            error = sample.metainfo.get('decoder_error')
            caption = f'{" ".join(tokens)} -> {group} decoder'
            if error:
                text_lines = list(text_lines) + [f'{caption}: not decoded ({error})']
                continue
            panels += self.output_panels(image, sample, pred_score_thr, caption=caption)
        return self.compose(panels, text_lines)

    def add_datasample(self,
                       name: str,
                       image: Optional[np.ndarray],
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """Draw one sample (mmdet's signature): show it, write ``out_file`` or hand it to the
        visualisation backends."""
        drawn = self.draw_sample(image, data_sample, draw_gt, draw_pred, pred_score_thr)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
