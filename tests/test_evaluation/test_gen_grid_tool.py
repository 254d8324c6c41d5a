"""tools/analysis_tools/gen_grid.py: the grid layout, and the tool end to end on a tiny model."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from tool_loader import load_tool

from mmvisionllm.datasets.shapesworld.vocabulary import build_word_level_tokenizer

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def gen_grid():
    return load_tool('analysis_tools/gen_grid.py')


def test_make_grid_layout(gen_grid):
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    grid = gen_grid.make_grid([red, None, red], ['a', 'b', 'c'], cell=32, columns=2, text_lines=2)
    text_h = 2 * 14 + 6
    assert grid.shape == (2 * (32 + text_h), 64, 3) and grid.dtype == np.uint8
    assert (grid[:32, :32] == [255, 0, 0]).all()  # first image, upscaled
    assert (grid[:32, 32:64] == 200).all()  # no image: grey cell
    assert (grid[32 + text_h:64 + text_h, :32] == [255, 0, 0]).all()  # third image, second row
    assert (grid[32:32 + text_h, :32] < 255).any()  # caption text drawn under the first image
    with pytest.raises(ValueError):
        gen_grid.make_grid([red], ['a', 'b'])


def test_gen_grid_runs_on_a_config(gen_grid, tmp_path, monkeypatch):
    """The tool on a random tiny VisionLLMv2; its random LLM's answers are replaced by a fixed
    reply with [GEN] for the first prompt and a text-only reply for the second."""
    from mmvisionllm.models.mllm import VisionLLMv2
    from mmvisionllm.models.mllm.link_generation import EmittedLink, GeneratedTurn
    replies = iter([
        GeneratedTurn(
            'here is the image [GEN]',
            links=[EmittedLink('[GEN]', 'gen', 'image', torch.randn(8, 64))]),
        GeneratedTurn('no .')
    ])
    monkeypatch.setattr(VisionLLMv2, 'generate_turns', lambda self, *args: [next(replies)])

    prompts = ['Please generate an image of a large red circle.', 'Draw a small blue star.']
    tokenizer_dir = str(tmp_path / 'tokenizer')
    build_word_level_tokenizer(prompts + ['Here is the image [GEN]']).save_pretrained(tokenizer_dir)
    config = tmp_path / 'gen_small.py'
    base = osp.join(REPO, 'configs', 'visionllmv2', 'visionllmv2_tiny_gen_shapesworld.py')
    config.write_text(f"""_base_ = ['{base}']
model = dict(
    llm=dict(tokenizer_path='{tokenizer_dir}',
             config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2)),
    vision_encoder=dict(config=dict(image_size=32, hidden_size=32, intermediate_size=64)),
    decoders=dict(gen=dict(tokenizer=dict(pretrained='{tokenizer_dir}'))),
    max_new_tokens=8)
""")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = gen_grid.main([
            str(config), '--prompts', *prompts, '--out',
            str(tmp_path / 'grid.png'), '--steps', '2', '--cell', '48'
        ])
    finally:
        torch.set_num_threads(threads)
    grid = mmcv.imread(out)
    assert grid.shape[1] == 2 * 48 and grid.shape[0] == 48 + 4 * 14 + 6
    assert grid[:48, :48].std() > 0  # the decoder's (random) image
    assert (grid[:48, 48:] == 200).all()  # no [GEN] emitted: empty cell
