"""Shared set-up of the projects' tests: modules registered, 2 torch threads. The repository root
is importable (``projects.<name>``, as ``custom_imports`` in the projects' configs name them)
through pytest's ``pythonpath`` (setup.cfg)."""
import os

import pytest
import torch

torch.set_num_threads(int(os.environ.get('TEST_NUM_THREADS', 2)))


@pytest.fixture(scope='session', autouse=True)
def _register_all_modules():
    from mmvisionllm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
