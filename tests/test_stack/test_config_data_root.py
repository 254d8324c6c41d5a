"""One variable moves every ShapesWorld path of the shipped configs: ``SHAPESWORLD_ROOT``.

The configs read it with MMEngine's environment-variable substitution (``{{$VAR:default}}``), so
datasets, metrics' annotation files and tokenizer folders move together, bases included.
"""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPESWORLD_CONFIGS = sorted(
    path for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if 'shapesworld' in osp.basename(path) and '_base_' not in path)


@pytest.mark.parametrize('config', SHAPESWORLD_CONFIGS, ids=osp.basename)
def test_shapesworld_root_moves_every_path(config, monkeypatch):
    monkeypatch.delenv('SHAPESWORLD_ROOT', raising=False)
    default = json.dumps(Config.fromfile(config).to_dict(), default=str)
    assert 'data/shapesworld' in default
    monkeypatch.setenv('SHAPESWORLD_ROOT', '/elsewhere/sw/')
    moved = json.dumps(Config.fromfile(config).to_dict(), default=str)
    assert 'data/shapesworld' not in moved
    assert moved.count('/elsewhere/sw/') == default.count('data/shapesworld')
