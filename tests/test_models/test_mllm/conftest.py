"""Fixtures of the VisionLLMv2 core tests."""
import pytest
from mllm_builders import save_word_tokenizer


@pytest.fixture(scope='session')
def tokenizer_dir(tmp_path_factory) -> str:
    """A saved word-level tokenizer (stands in for data/shapesworld/tokenizer)."""
    return save_word_tokenizer(str(tmp_path_factory.mktemp('tokenizer')))


@pytest.fixture(scope='session', autouse=True)
def _toy_decoder_registered():
    """Register the test-only decoder plugin (tests/data is on pytest's pythonpath, setup.cfg)."""
    import toy_link_decoder  # noqa: F401
