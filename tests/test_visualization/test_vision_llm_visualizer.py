"""VisionLLMVisualizer draws what a sample holds, where it is: boxes and masks (mmdet), keypoints
and the skeleton (mmpose, the dataset's colours), region prompts, generated images beside their
target, and rescales small images with their annotations."""
import numpy as np
import torch
from mmengine.structures import InstanceData

from mmvisionllm.structures import MMDataSample
from mmvisionllm.visualization import VisionLLMVisualizer

WHITE = np.array([255, 255, 255])


def _visualizer(**kwargs):
    return VisionLLMVisualizer(name=f'test_{id(kwargs)}_{len(kwargs)}', **kwargs)


def _changed(image: np.ndarray) -> np.ndarray:
    return np.abs(image.astype(int) - WHITE).sum(-1) > 30


def test_box_and_mask_are_drawn_in_the_upscaled_image():
    vis = _visualizer(bbox_color=(255, 0, 0), mask_color=(0, 0, 255), alpha=1.0, line_width=2)
    image = np.full((128, 128, 3), 255, np.uint8)
    mask = torch.zeros(1, 128, 128, dtype=torch.bool)
    mask[0, 90:110, 90:110] = True
    instances = InstanceData(
        bboxes=torch.tensor([[10., 40., 60., 80.]]),
        labels=torch.tensor([0]),
        scores=torch.tensor([0.9]),
        masks=mask)
    drawn = vis.draw_instances(image, instances, ['circle'])
    assert drawn.shape == (384, 384, 3)  # min_side 384: x3, the box and mask scaled with it
    changed = _changed(drawn)
    # the box [10, 40, 60, 80] x 3 = [30, 120, 180, 240] (its label sits at the top left)
    assert changed[240, 60:150].all() and changed[180:235, 30].all()  # bottom and left edges
    assert not changed[180:230, 100:170].any()  # inside the box: nothing drawn
    assert drawn[300, 300, 2] > 150 and drawn[300, 300, 0] < 150  # the blue mask at (100, 100)
    assert not changed[360:, :200].any()


def test_low_scores_are_not_drawn():
    vis = _visualizer()
    image = np.full((128, 128, 3), 255, np.uint8)
    instances = InstanceData(
        bboxes=torch.tensor([[10., 10., 60., 60.]]),
        labels=torch.tensor([0]),
        scores=torch.tensor([0.1]))
    assert not _changed(vis.draw_instances(image, instances, ['circle'], score_thr=0.3)).any()


def test_keypoints_and_skeleton_in_the_dataset_colours():
    meta = dict(
        keypoint_colors=np.array([[0, 255, 0], [0, 255, 0]]),
        skeleton_links=[(0, 1)],
        skeleton_link_colors=np.array([[255, 0, 255]]))
    vis = _visualizer(min_side=128, kpt_radius=2)
    vis.dataset_meta = dict(task_metainfo=dict(pose=meta))  # as a MultiTaskDataset gives it
    image = np.full((128, 128, 3), 255, np.uint8)
    instances = InstanceData(
        keypoints=np.array([[[20., 20.], [100., 20.]]]),
        keypoint_scores=np.array([[0.9, 0.9]]),
        labels=np.array([0]))
    drawn = vis.draw_instances(image, instances, ['person'])
    assert tuple(drawn[20, 20]) == (0, 255, 0) and tuple(drawn[20, 100]) == (0, 255, 0)
    assert tuple(drawn[20, 60]) == (255, 0, 255)  # the skeleton link between them


def test_region_prompt_box_and_mask():
    vis = _visualizer(min_side=128)
    image = np.full((128, 128, 3), 255, np.uint8)
    mask = np.zeros((128, 128), bool)
    mask[80:100, 80:100] = True
    drawn = vis.draw_regions(image, [np.array([10., 10., 40., 40.]), mask])
    changed = _changed(drawn)
    assert changed[25, 10] and changed[90, 90] and not changed[60, 60]


def test_generation_sample_shows_generated_and_target_side_by_side():
    vis = _visualizer(min_side=128)
    sample = MMDataSample(
        metainfo=dict(conversation=[{
            'from': 'human',
            'value': 'Please generate an image of a small red star.'
        }, {
            'from': 'gpt',
            'value': 'Here is the image [GEN]'
        }]))
    sample.pred_image = torch.zeros(3, 128, 128, dtype=torch.uint8)
    sample.gt_image = torch.full((3, 128, 128), 100, dtype=torch.uint8)
    drawn = vis.draw_sample(None, sample, draw_gt=True)
    header = vis.text_panel(['x'], 10).shape[0]
    row = drawn[header + 10]
    assert (row[:128] == 0).all()  # the generated (black) image on the left
    assert (row[128:134] == 255).all()  # the separator
    assert (row[134:262] == 100).all()  # the (grey) target on the right
    assert drawn.shape[0] > header + 128  # the conversation under the panels
