"""Write PNGs of dataset samples with their ground truth drawn (modelled on mmdet's tool).

Each PNG shows the decoder view of the sample with boxes/masks drawn by mmdet's
``DetLocalVisualizer`` (labels are the sample's ``target_names``), keypoints and skeleton of the
pose task, region prompts of region questions, the target image of generation/editing next to the
source, the CLIP tiles (thumbnail last) and, below, the conversation.

Example:
    python tools/misc/browse_dataset.py configs/_base_/datasets/shapesworld_multitask.py \
        --output-dir work_dirs/browse --task pose --max 8
"""
import argparse
import os
import os.path as osp
import textwrap
from typing import List, Optional

import cv2
import mmcv
import numpy as np
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmengine.utils import ProgressBar

import mmvisionllm.datasets  # noqa: F401  (registers datasets and transforms)
from mmvisionllm.registry import DATASETS

_TEXT_COLOUR = (20, 20, 20)
_BACKGROUND = 255
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.45
_LINE_HEIGHT = 17
_REGION_COLOURS = [(255, 0, 255), (0, 200, 255), (255, 128, 0)]


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Browse a mmvisionllm dataset config')
    parser.add_argument('config', help='dataset (or training) config file')
    parser.add_argument('--output-dir', required=True, help='folder for the PNGs')
    parser.add_argument(
        '--split',
        choices=['train', 'val', 'test'],
        default='train',
        help='which dataloader to browse (val falls back to test when the config has none)')
    parser.add_argument('--task', default=None, help='only samples of this task')
    parser.add_argument('--max', type=int, default=10, help='number of samples to draw')
    parser.add_argument('--scale', type=int, default=3, help='upscaling of the drawn images')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, xxx=yyy format')
    return parser.parse_args()


def select_indices(dataset, task: Optional[str], maximum: int) -> List[int]:
    """First ``maximum`` indices whose task is ``task`` (any task if None)."""
    if task is None:
        return list(range(min(maximum, len(dataset))))
    tasks = set(getattr(dataset, 'tasks', [getattr(dataset, 'task', None)]))
    if task not in tasks:
        raise ValueError(f'--task {task!r} is not in this dataset (tasks: {sorted(tasks)})')
    indices = [i for i in range(len(dataset)) if dataset.get_task(i) == task]
    return indices[:maximum]


def skeleton_of(dataset, task: str) -> List[tuple]:
    """Skeleton links (keypoint index pairs) from the pose metainfo, if any."""
    metainfo = dataset.metainfo
    metainfo = metainfo.get('task_metainfo', {}).get(task, metainfo)
    return [tuple(link) for link in metainfo.get('skeleton_links', [])]


def to_hwc(image) -> np.ndarray:
    """uint8 tensor [3, H, W] → array [H, W, 3]."""
    return np.ascontiguousarray(image.permute(1, 2, 0).numpy())


def draw_instances(image: np.ndarray, sample, scale: int, skeleton: List[tuple]) -> np.ndarray:
    """Boxes/masks with mmdet's visualiser, then keypoints + skeleton, on an upscaled RGB image."""
    height, width = image.shape[:2]
    big = mmcv.imresize(image, (width * scale, height * scale), interpolation='nearest')
    gt = sample.gt_instances
    if 'bboxes' not in gt or len(gt.bboxes) == 0:
        return big
    scaled = InstanceData(bboxes=gt.bboxes * scale, labels=gt.labels)
    if 'masks' in gt:
        scaled.masks = gt.masks.resize((height * scale, width * scale)).to_ndarray().astype(bool)
    visualizer = DetLocalVisualizer(name='browse', line_width=2, alpha=0.45)
    visualizer.dataset_meta = {'classes': sample.target_names}
    visualizer.add_datasample('sample', big, DetDataSample(gt_instances=scaled), draw_pred=False)
    drawn = visualizer.get_image().copy()
    if 'keypoints' in gt:
        for keypoints, visible in zip(gt.keypoints.numpy() * scale, gt.keypoints_visible.numpy()):
            for start, end in skeleton:
                if visible[start] > 0 and visible[end] > 0:
                    cv2.line(drawn, tuple(int(v) for v in keypoints[start]),
                             tuple(int(v) for v in keypoints[end]), (255, 255, 255), 2, cv2.LINE_AA)
            for k, (point, flag) in enumerate(zip(keypoints, visible)):
                if flag > 0:
                    colour = (0, 200, 0) if 'left' in sample.target_names[k + 1] else ((
                        255, 140, 0) if 'right' in sample.target_names[k + 1] else (0, 120, 255))
                    cv2.circle(drawn, tuple(int(v) for v in point), 4, colour, -1, cv2.LINE_AA)
    return drawn


def draw_regions(image: np.ndarray, regions: list, scale: int) -> np.ndarray:
    """Overlay region prompts (bool masks at the original size) and their outlines."""
    height, width = image.shape[:2]
    big = mmcv.imresize(image, (width * scale, height * scale), interpolation='nearest').copy()
    for i, region in enumerate(regions):
        mask = cv2.resize(
            region.astype(np.uint8), (width * scale, height * scale),
            interpolation=cv2.INTER_NEAREST).astype(bool)
        colour = np.array(_REGION_COLOURS[i % len(_REGION_COLOURS)], dtype=np.float32)
        big[mask] = (0.5 * big[mask] + 0.5 * colour).astype(np.uint8)
        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(big, contours, -1, tuple(int(c) for c in colour), 2)
    return big


def caption_panel(panel: np.ndarray, title: str) -> np.ndarray:
    """Add a title strip above an image panel."""
    strip = np.full((22, panel.shape[1], 3), _BACKGROUND, dtype=np.uint8)
    cv2.putText(strip, title, (4, 16), _FONT, _FONT_SCALE, _TEXT_COLOUR, 1, cv2.LINE_AA)
    return np.concatenate([strip, panel], axis=0)


def hstack(panels: List[np.ndarray], gap: int = 8) -> np.ndarray:
    """Place panels side by side on a white canvas, top-aligned."""
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    canvas = np.full((height, width, 3), _BACKGROUND, dtype=np.uint8)
    x = 0
    for panel in panels:
        canvas[:panel.shape[0], x:x + panel.shape[1]] = panel
        x += panel.shape[1] + gap
    return canvas


def text_block(lines: List[str], width: int) -> np.ndarray:
    """Render wrapped text lines on a white strip of the given width."""
    chars = max(20, width // 8)
    wrapped = [piece for line in lines for piece in (textwrap.wrap(line, chars) or [''])]
    block = np.full((_LINE_HEIGHT * len(wrapped) + 10, width, 3), _BACKGROUND, dtype=np.uint8)
    for row, line in enumerate(wrapped):
        cv2.putText(block, line, (6, _LINE_HEIGHT * (row + 1)), _FONT, _FONT_SCALE, _TEXT_COLOUR, 1,
                    cv2.LINE_AA)
    return block


def render_sample(packed: dict, scale: int, skeleton: List[tuple]) -> np.ndarray:
    """The whole PNG of one packed sample (RGB)."""
    sample = packed['data_samples']
    panels = []
    image = packed['inputs']['image']
    if image is not None:
        view = to_hwc(image)
        if sample.task == 'region':
            drawn = draw_regions(view, sample.metainfo.get('regions', []), scale)
        else:
            drawn = draw_instances(view, sample, scale, skeleton)
        panels.append(caption_panel(drawn, 'source' if sample.task == 'edit' else 'decoder view'))
    if 'gt_image' in sample:
        target = to_hwc(sample.gt_image)
        big = mmcv.imresize(
            target, (target.shape[1] * scale, target.shape[0] * scale), interpolation='nearest')
        panels.append(caption_panel(big, 'target image'))
    clip = packed['inputs']['clip']
    if clip is not None:
        tiles = [to_hwc(tile) for tile in clip]
        size = panels[0].shape[0] - 22 if panels else 128
        tile_side = max(32, size // 3)
        column = hstack([mmcv.imresize(t, (tile_side, tile_side)) for t in tiles], gap=2)
        panels.append(caption_panel(column, f'CLIP view: {len(tiles)} tiles (thumbnail last)'))
    canvas = hstack(panels)
    lines = [
        f'task: {sample.task}   img_id: {sample.metainfo.get("img_id")}   '
        f'targets: {sample.target_names}'
    ]
    for turn in sample.conversation:
        speaker = 'USER' if turn['from'] == 'human' else 'ASSISTANT'
        lines.append(f"{speaker}: {turn['value']}".replace('\n', ' \\n '))
    return np.concatenate([canvas, text_block(lines, canvas.shape[1])], axis=0)


def main() -> None:
    """Draw the requested samples."""
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmvisionllm'))
    if args.split == 'val' and not cfg.get('val_dataloader'):
        args.split = 'test'  # e.g. the demo config evaluates only after training
    loader = cfg.get(f'{args.split}_dataloader')
    if not loader:
        raise KeyError(f'{args.config} has no {args.split}_dataloader')
    dataset = DATASETS.build(loader.dataset)
    indices = select_indices(dataset, args.task, args.max)
    os.makedirs(args.output_dir, exist_ok=True)
    progress = ProgressBar(len(indices))
    for index in indices:
        packed = dataset[index]
        task = packed['data_samples'].task
        canvas = render_sample(packed, args.scale, skeleton_of(dataset, task))
        mmcv.imwrite(canvas[..., ::-1], osp.join(args.output_dir, f'{task}_{index:06d}.png'))
        progress.update()


if __name__ == '__main__':
    main()
