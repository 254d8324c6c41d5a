"""A learning test reports the figures it asserts on, for measuring their spread across kernels.

Each learning test (one that trains and asserts a learned quality against a threshold) calls
:func:`report_figures` before its asserts; ``tools/analysis_tools/learning_test_spread.py`` runs the
test under several kernel settings and reads the printed line back. Under plain pytest the line is
captured and shown only when the test fails, next to the failed assert.
"""
import json
import os

import torch

PREFIX = 'learning-test figures: '


def report_figures(**figures: float) -> None:
    """Print ``figures`` and the kernel setting they were measured under as one JSON line.

    Call it where the measurement ran (inside a test's own thread-count context, if it has one), so
    the recorded thread count is the one the training used.
    """
    test = os.environ.get('PYTEST_CURRENT_TEST', '').split(' ')[0]
    setting = dict(
        threads=torch.get_num_threads(),
        mkldnn=torch.backends.mkldnn.enabled,
        capability=torch.backends.cpu.get_cpu_capability())
    values = {key: float(value) for key, value in figures.items()}
    print(PREFIX + json.dumps(dict(test=test, setting=setting, figures=values)), flush=True)
