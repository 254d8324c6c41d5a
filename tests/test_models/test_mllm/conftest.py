"""Fixtures of the VisionLLMv2 core tests."""
import os.path as osp
import sys

import pytest

HERE = osp.dirname(osp.abspath(__file__))
# pytest's importlib mode leaves sys.path alone; the tests here share mllm_builders
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from mllm_builders import save_word_tokenizer  # noqa: E402


@pytest.fixture(scope='session')
def tokenizer_dir(tmp_path_factory) -> str:
    """A saved word-level tokenizer (stands in for data/shapesworld/tokenizer)."""
    return save_word_tokenizer(str(tmp_path_factory.mktemp('tokenizer')))


@pytest.fixture(scope='session', autouse=True)
def _toy_decoder_registered():
    """Register the test-only decoder plugin (tests/data is on sys.path, see tests/conftest.py)."""
    import toy_link_decoder  # noqa: F401
