"""Shared test set-up: register every module once, keep torch to two threads (2-core machine)."""
import os

import pytest
import torch

# TEST_NUM_THREADS=1 lets two slow tests run side by side without oversubscribing the cores
torch.set_num_threads(int(os.environ.get('TEST_NUM_THREADS', 2)))


@pytest.fixture(scope='session', autouse=True)
def _register_all_modules():
    from mmvisionllm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
