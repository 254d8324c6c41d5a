"""Shared set-up of the projects' tests: the repository root is importable (``projects.<name>``,
as ``custom_imports`` in the projects' configs name them), modules registered, 2 torch threads."""
import os
import os.path as osp
import sys

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

torch.set_num_threads(int(os.environ.get('TEST_NUM_THREADS', 2)))


@pytest.fixture(scope='session', autouse=True)
def _register_all_modules():
    from mmvisionllm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
