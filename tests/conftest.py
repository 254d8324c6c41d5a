"""Shared test set-up: register every module once, keep torch to two threads (2-core machine)."""
import os
import os.path as osp
import sys

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TEST_DATA = osp.join(REPO_ROOT, 'tests', 'data')
if TEST_DATA not in sys.path:  # configs under tests/data/configs import helpers from tests/data
    sys.path.insert(0, TEST_DATA)

# TEST_NUM_THREADS=1 lets two slow tests run side by side without oversubscribing the cores
torch.set_num_threads(int(os.environ.get('TEST_NUM_THREADS', 2)))


@pytest.fixture(scope='session', autouse=True)
def _register_all_modules():
    from mmvisionllm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
