"""demo/image_demo.py: answers and drawings for every readable image, a clear message (naming the
file) for each unreadable one while the others go on, and the interactive terminal chat."""
import io
import json
import os.path as osp

import image_demo
import numpy as np
import pytest
import torch
from chat_helpers import toy_config
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

PHOTO = osp.join(
    osp.dirname(__import__('matplotlib').__file__), 'mpl-data', 'sample_data', 'grace_hopper.jpg')


@pytest.fixture(scope='module')
def config_file(tmp_path_factory):
    root = tmp_path_factory.mktemp('cfg')
    cfg = toy_config(str(root / 'tok'))
    path = str(root / 'toy.py')
    cfg.dump(path)
    return path


def test_prompt_mode_reports_each_bad_file_and_answers_the_rest(config_file, tmp_path, capsys):
    text = tmp_path / 'notes.jpg'
    text.write_text('hello\n')
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(open(PHOTO, 'rb').read()[:3000])
    dot = tmp_path / 'dot.png'
    Image.fromarray(np.full((1, 1), 7, np.uint8)).save(dot)
    out = tmp_path / 'out'
    torch.manual_seed(0)
    status = image_demo.main([
        PHOTO,
        str(text),
        str(cut),
        str(tmp_path / 'gone.jpg'),
        str(dot), 'what is in the image ?', config_file, '--out-dir',
        str(out)
    ])
    captured = capsys.readouterr()
    assert status == 1  # some inputs failed
    assert "notes.jpg: cannot answer: " in captured.err and 'is not an image file' in captured.err
    assert 'cut.jpg: cannot answer: ' in captured.err and 'cannot be decoded' in captured.err
    assert "gone.jpg' does not exist" in captured.err
    assert 'grace_hopper.jpg (512x600):' in captured.out and 'dot.png (1x1):' in captured.out
    for name in ('grace_hopper', 'dot'):
        assert osp.getsize(out / 'vis' / f'{name}.png') > 1000
        record = json.load(open(out / 'preds' / f'{name}.json'))
        assert record['turns'][0]['prompt'] == 'what is in the image ?'
        assert isinstance(record['turns'][0]['answer'], str)


def test_empty_prompt_is_reported(config_file, tmp_path, capsys):
    status = image_demo.main([PHOTO, '  ', config_file, '--out-dir', str(tmp_path)])
    assert status == 1 and 'empty prompt' in capsys.readouterr().err


def test_interactive_chat_keeps_the_conversation(config_file, tmp_path, capsys, monkeypatch):
    args = image_demo.parse_args([PHOTO, config_file, '--out-dir', str(tmp_path)])
    inferencer = image_demo.VisionLLMInferencer(config_file)
    seen = []
    original = inferencer.chat

    def record(image, messages, regions=(), metainfo=None):
        seen.append((list(messages), len(regions)))
        return original(image, messages, regions, metainfo)

    monkeypatch.setattr(inferencer, 'chat', record)
    stdin = io.StringIO('what is this ?\n\n/box 10 10 200 200\nand this ?\n/box 1 2\n/quit\n')
    assert image_demo.run_chat(inferencer, PHOTO, args, stdin=stdin) == 0
    out = capsys.readouterr().out
    assert out.count('answer: ') == 2 and 'usage: /box x1 y1 x2 y2' in out
    (first, no_region), (second, one_region) = seen
    assert no_region == 0 and one_region == 1
    # the second turn carries the first question and answer as history, then the region question
    assert [t['from'] for t in second] == ['human', 'gpt', 'human']
    assert second[0]['value'] == 'what is this ?' and second[2]['value'] == 'and this ? <region>'
