"""Persistent dataloader workers die with a SIGKILLed training process (they outlived it)."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
from tool_loader import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'toy_regression_iter.py')


def children(pid: int) -> list:
    try:
        with open(f'/proc/{pid}/task/{pid}/children') as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/status') as f:
            return 'State:\tZ' not in f.read()
    except OSError:
        return False


@pytest.mark.slow  # ~1.5 min, mostly the training's start-up
@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc')
def test_workers_die_with_the_killed_run(tmp_path):
    env = dict(os.environ, PYTHONPATH=osp.join(REPO_ROOT, 'tests', 'data'))
    proc = subprocess.Popen([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options', 'train_dataloader.num_workers=2',
        'train_dataloader.persistent_workers=True', 'train_dataloader.dataset.delay=0.05',
        'train_cfg.max_iters=100000'
    ],
                            cwd=REPO_ROOT,
                            env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    workers = []
    try:
        deadline = time.time() + 240
        while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
            time.sleep(0.5)
            workers = children(proc.pid)
        assert len(workers) >= 2, 'the training never started its workers'
        time.sleep(2)  # training runs
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, as `kill -9 <pid>`
        proc.wait()
        deadline = time.time() + 2
        while time.time() < deadline and any(alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), 'workers outlived the killed run'
    finally:
        for pid in workers:  # the ones this test started, if they survived
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
