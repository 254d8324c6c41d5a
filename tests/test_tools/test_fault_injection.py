"""tools/misc/fault_injection.py: a run SIGKILLed at a random step and while writing a checkpoint,
resumed each time, ends with the weights of the uninterrupted run, bit for bit."""
import json
import os.path as osp

from tool_loader import REPO_ROOT, load_tool

CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'toy_regression_iter.py')


def test_killed_twice_ends_with_the_uninterrupted_weights(tmp_path, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', osp.join(REPO_ROOT, 'tests', 'data'))
    tool = load_tool('misc/fault_injection.py')
    rc = tool.main([
        CONFIG, '--work-dir',
        str(tmp_path), '--kills', '2', '--modes', 'step,save', '--seed', '1', '--cfg-options',
        'train_cfg.max_iters=12'
    ])
    result = json.load(open(tmp_path / 'fault_injection.json'))
    assert rc == 0 and result['equal'] and result['num_tensors'] == 2
    assert result['num_kills'] == 2 and [k['mode'] for k in result['kills']] == ['step', 'save']
    save_log = open(tmp_path / 'killed_1.log').read()
    assert 'SIGKILL while writing' in save_log
