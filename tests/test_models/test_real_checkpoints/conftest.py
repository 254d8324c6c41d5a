"""Fixtures of the real-layout tests: tiny folders in the real checkpoints' layouts, ShapesWorld."""
import pytest
from mllm_builders import save_word_tokenizer
from real_layouts import save_clip_l336, save_qwen2, save_vicuna


@pytest.fixture(scope='session')
def tokenizer_dir(tmp_path_factory) -> str:
    """A saved word-level tokenizer (the tiny random-init LLM's)."""
    return save_word_tokenizer(str(tmp_path_factory.mktemp('tokenizer')))


@pytest.fixture(scope='session')
def layouts(tmp_path_factory) -> dict:
    """Folder per layout: ``clip`` (CLIP ViT-L/14-336), ``vicuna`` (Vicuna-7B v1.5, sentencepiece
    tokenizer.model only), ``qwen2`` (tied Qwen2, padded embedding)."""
    root = tmp_path_factory.mktemp('real_layouts')
    return dict(
        clip=save_clip_l336(str(root / 'clip-vit-large-patch14-336')),
        vicuna=save_vicuna(str(root / 'vicuna-7b-v1.5')),
        qwen2=save_qwen2(str(root / 'qwen2-0.5b')))


@pytest.fixture(scope='session')
def shapesworld(tmp_path_factory) -> str:
    """A small ShapesWorld set (12 train / 6 val scenes)."""
    from mmvisionllm.datasets.shapesworld import generate_shapesworld
    root = str(tmp_path_factory.mktemp('shapesworld'))
    generate_shapesworld(root, show_progress=False, seed=0, num_train=12, num_val=6, img_size=128)
    return root


@pytest.fixture(scope='session', autouse=True)
def _toy_decoder_registered():
    import toy_link_decoder  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_config_text(monkeypatch):
    """mmengine formats the whole config with yapf for every dump and checkpoint (``pretty_text``):
    two thirds of these tests' time. A plain ``key = repr(value)`` text is written instead."""
    from mmengine.config import Config
    monkeypatch.setattr(
        Config, 'pretty_text',
        property(lambda self: '\n'.join(f'{k} = {v!r}' for k, v in self.to_dict().items())))


@pytest.fixture(scope='session')
def sd_layouts(tmp_path_factory) -> dict:
    """``sd15``: a Stable Diffusion 1.5 folder; ``ip2p``: an InstructPix2Pix one (8-channel
    UNet)."""
    from real_layouts import save_stable_diffusion
    root = tmp_path_factory.mktemp('sd_layouts')
    words = ('draw', 'make', 'the', 'a', 'red', 'green', 'blue', 'yellow', 'circle', 'square',
             'star', 'triangle', 'small', 'large')
    return dict(
        sd15=save_stable_diffusion(str(root / 'stable-diffusion-v1-5'), words=words),
        ip2p=save_stable_diffusion(str(root / 'instruct-pix2pix'), unet_in_channels=8, words=words))
