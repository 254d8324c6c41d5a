"""``tools/test.py CONFIG CKPT --show-dir DIR`` writes one picture per test sample for every task
of the demo config (mmdet's --show-dir), drawn by VisionLLMVisualizer."""
import glob
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'visionllmv2', 'visionllmv2_tiny_shapesworld.py')
TASKS = ('det', 'seg', 'grd', 'pose', 'vqa', 'caption', 'gen', 'edit')
NUM = 2  # test samples per task


def _run(args, cwd):
    threads = os.environ.get('TEST_NUM_THREADS', '2')
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS=threads)
    out = subprocess.run(
        [sys.executable] + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])
    return out.stdout


@pytest.mark.slow  # ~75 s on 2 cores: data, a random demo model, 16 test samples drawn
def test_show_dir_writes_one_picture_per_sample_of_every_task(tmp_path):
    _run([
        osp.join(REPO, 'tools', 'misc', 'generate_shapesworld.py'), '--out-dir', 'data/shapesworld',
        '--num-train', '8', '--num-val', '8', '--img-size', '128', '--no-progress'
    ],
         cwd=tmp_path)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the config's relative data paths
    try:
        from mmvisionllm.registry import MODELS
        torch.manual_seed(0)
        model = MODELS.build(Config.fromfile(CONFIG).model)
    finally:
        os.chdir(cwd)
    # A random LM head may greedily emit <image>/<region>/[EMB], which the chat cannot feed
    # (issue #21 case 9); zero rows give those tokens logit 0, below the max of the others.
    head = model.llm.model.get_output_embeddings().weight
    with torch.no_grad():
        for token in ('<image>', '<region>', '[EMB]'):
            head[model.tokenizer.convert_tokens_to_ids(token)] = 0
    checkpoint = str(tmp_path / 'random.pth')
    save_checkpoint(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    del model
    options = ['test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'
               ] + [f'test_dataloader.dataset.max_samples.{task}={NUM}' for task in TASKS]
    _run(
        [
            osp.join(REPO, 'tools', 'test.py'), CONFIG, checkpoint, '--work-dir', 'wd',
            '--show-dir', 'vis', '--cfg-options'
        ] + options,
        cwd=tmp_path)
    (stamp, ) = [d for d in os.listdir(tmp_path / 'wd') if osp.isdir(tmp_path / 'wd' / d / 'vis')]
    root = tmp_path / 'wd' / stamp / 'vis'
    assert sorted(os.listdir(root)) == sorted(TASKS)
    for task in TASKS:
        files = sorted(glob.glob(str(root / task / '*.png')))
        assert len(files) == NUM, (task, files)
        for path in files:
            image = np.asarray(Image.open(path).convert('RGB'))
            # panels of at least the visualizer's min_side (384) above the conversation text
            assert image.shape[0] > 384 and image.shape[1] >= 384, (path, image.shape)
            assert image.std() > 10, path  # not a blank canvas
    # the input image panel + ground truth + prediction for the instance tasks; generation has
    # no input image: generated + target
    det = np.asarray(Image.open(sorted(glob.glob(str(root / 'det' / '*.png')))[0]))
    gen = np.asarray(Image.open(sorted(glob.glob(str(root / 'gen' / '*.png')))[0]))
    assert det.shape[1] > 3 * 384 and 2 * 384 < gen.shape[1] < 3 * 384
