"""tools/train.py and tools/test.py end to end from the shell, including --resume."""
import json
import os
import os.path as osp
import subprocess
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'toy_regression.py')


def run_tool(*args: str, expect_rc: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=osp.join(REPO_ROOT, 'tests', 'data'))
    proc = subprocess.run([sys.executable, *args],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert (proc.returncode == 0) == (expect_rc == 0), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_train_then_resume_then_test(tmp_path):
    work_dir = str(tmp_path / 'toy')
    proc = run_tool(
        'tools/train.py',
        CONFIG,
        '--work-dir',
        work_dir,
        '--cfg-options',
        'custom_hooks.0.kill_after_epoch=2',
        expect_rc=1)
    assert 'simulated kill after epoch 2' in proc.stderr
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    assert not osp.isfile(osp.join(work_dir, 'epoch_3.pth'))
    assert open(osp.join(work_dir, 'last_checkpoint')).read().strip().endswith('epoch_2.pth')

    proc = run_tool('tools/train.py', CONFIG, '--work-dir', work_dir, '--resume')
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 2' in log, log[-3000:]
    assert osp.isfile(osp.join(work_dir, 'epoch_4.pth'))
    assert not osp.isfile(osp.join(work_dir, 'epoch_5.pth'))

    run_tool('tools/test.py', CONFIG, osp.join(work_dir, 'epoch_4.pth'), '--work-dir', work_dir)
    metrics = json.load(open(osp.join(work_dir, 'test_metrics.json')))
    assert metrics['mse'] < 0.05, metrics  # y = 3x - 1 is learnt


def test_resume_from_missing_checkpoint_fails_clearly(tmp_path):
    env = dict(os.environ, PYTHONPATH=osp.join(REPO_ROOT, 'tests', 'data'))
    proc = subprocess.run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(tmp_path), '--resume',
        str(tmp_path / 'nope.pth')
    ],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert 'nope.pth does not exist' in proc.stderr
