"""tools/misc/browse_dataset.py writes one PNG per sample with the gt and the conversation."""
import sys

import cv2
import numpy as np
import pytest
from tool_loader import load_tool

from .conftest import DATASET_CONFIG_DIR


@pytest.fixture(scope='module')
def browse_tool():
    return load_tool('misc/browse_dataset.py')


@pytest.mark.parametrize('task', ['seg', 'pose', 'region', 'edit', 'gen'])
def test_render_sample_draws_gt_and_text(browse_tool, build_task_dataset, task):
    dataset = build_task_dataset(task, 'val')
    index = next(
        (i for i in range(len(dataset)) if task != 'pose' or dataset.get_data_info(i)['instances']),
        0)
    packed = dataset[index]
    canvas = browse_tool.render_sample(packed, 3, browse_tool.skeleton_of(dataset, task))
    assert canvas.dtype == np.uint8 and canvas.ndim == 3
    image_height = 22 + 128 * 3
    assert canvas.shape[0] > image_height, 'the conversation is written under the images'
    text_area = canvas[image_height:]
    assert (text_area < 128).any(), 'text must be drawn'
    if task in ('gen', 'edit'):
        # The target image is shown: for gen it is the only image panel.
        target = packed['data_samples'].gt_image.permute(1, 2, 0).numpy()
        x0 = 0 if task == 'gen' else 128 * 3 + 8
        np.testing.assert_array_equal(canvas[22:22 + 384:3, x0:x0 + 384:3], target)
    else:
        plain = packed['inputs']['image'].permute(1, 2, 0).numpy()
        drawn = canvas[22:22 + 384:3, :384:3]
        assert (drawn != plain).any(), 'gt (boxes, masks, keypoints or regions) must be drawn'


def test_main_writes_pngs(browse_tool, shapesworld_root, tmp_path, monkeypatch):
    out_dir = tmp_path / 'browse'
    monkeypatch.setattr(sys, 'argv', [
        'browse_dataset.py',
        str(DATASET_CONFIG_DIR / 'shapesworld_det.py'), '--output-dir',
        str(out_dir), '--split', 'val', '--max', '3', '--cfg-options',
        f'val_dataloader.dataset.data_root={shapesworld_root}/'
    ])
    browse_tool.main()
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == ['det_000000.png', 'det_000001.png', 'det_000002.png']
    image = cv2.imread(str(out_dir / files[0]))
    assert image.shape[1] > 384 and image.shape[0] > 384


def test_unknown_task_is_refused(browse_tool, build_task_dataset):
    with pytest.raises(ValueError, match="--task 'pose' is not in this dataset"):
        browse_tool.select_indices(build_task_dataset('det', 'val'), 'pose', 3)
