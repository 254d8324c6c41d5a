import pytest

from mmvisionllm.testing.official_parity import write_vicuna_shaped_tokenizer


@pytest.fixture(scope='session')
def vicuna_tokenizer_dir(tmp_path_factory):
    """A 32000-piece stand-in of the Vicuna tokenizer (ids of <unk>/<s>/</s> as Vicuna's)."""
    return write_vicuna_shaped_tokenizer(str(tmp_path_factory.mktemp('vicuna') / 'tokenizer'))
