"""Nothing silent in the runtime: a diverging run stops, an unfitting checkpoint is refused, a
truncated checkpoint is skipped by --resume, a config typo and a --resume with nothing to resume
are errors, and TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD does not turn the checkpoint protection off."""
import argparse
import os
import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint
from tool_loader import load_tool
from toy_model import ToyRegressor

from mmvisionllm.engine import (CheckedLoadRunner, CheckpointMismatchError, ConfigKeyError,
                                NonFiniteLossError, checkpoint_problem, find_resumable_checkpoint)
from mmvisionllm.registry import MODELS

DATA = osp.join(osp.dirname(__file__), '..', 'data', 'configs')
ITER_CONFIG = osp.join(DATA, 'toy_regression_iter.py')
EPOCH_CONFIG = osp.join(DATA, 'toy_regression.py')


def toy_cfg(work_dir, config=ITER_CONFIG, **options) -> Config:
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'{osp.basename(str(work_dir))}_{len(options)}_{id(cfg)}'
    cfg.merge_from_dict(options)
    return cfg


def test_nan_loss_stops_at_the_first_non_finite_step(tmp_path):
    cfg = toy_cfg(tmp_path, **{
        'optim_wrapper.optimizer.lr': 1e30,
        'default_hooks.checkpoint.interval': 1
    })
    runner = CheckedLoadRunner.from_cfg(cfg)
    with pytest.raises(NonFiniteLossError, match=r'stopped at iteration 2 .*loss_mse') as error:
        runner.train()
    assert 'loss=inf' in str(error.value) or 'loss=nan' in str(error.value)
    assert osp.isfile(tmp_path / 'iter_1.pth')  # the last finite step is kept ...
    assert not osp.isfile(tmp_path / 'iter_2.pth')  # ... the diverged one is not written


@MODELS.register_module(force=True)
class MatcherLikeRegressor(ToyRegressor):
    """Fails inside its forward once the weights blow up, as the Hungarian matcher did (scipy's
    'matrix contains invalid numeric entries'), before any loss exists."""

    def forward(self, inputs, targets, mode: str = 'tensor'):
        if mode == 'loss' and not torch.isfinite((self.linear.weight**2).sum()):
            raise ValueError('matrix contains invalid numeric entries')
        return super().forward(inputs, targets, mode)


def test_forward_failure_on_diverged_weights_names_the_iteration(tmp_path):
    cfg = toy_cfg(tmp_path, **{'optim_wrapper.optimizer.lr': 1e30})
    cfg.model = dict(type='MatcherLikeRegressor')
    runner = CheckedLoadRunner.from_cfg(cfg)
    with pytest.raises(
            NonFiniteLossError,
            match=r'iteration 2 .*weights diverged \(parameter linear.weight reaches '
            r'.*ValueError: matrix contains invalid numeric entries'):
        runner.train()


def toy_checkpoint(tmp_path) -> str:
    cfg = toy_cfg(tmp_path / 'train', **{'train_cfg.max_iters': 1})
    runner = CheckedLoadRunner.from_cfg(cfg)
    runner.train()
    return osp.join(runner.work_dir, 'iter_1.pth')


def test_checkpoint_that_loads_nothing_is_refused(tmp_path):
    good = toy_checkpoint(tmp_path)
    state = torch.load(good, weights_only=True)
    empty, prefixed, partial = (str(tmp_path / name) for name in ('e.pth', 'p.pth', 'q.pth'))
    torch.save({'state_dict': {}}, empty)
    torch.save({'state_dict': {'model.' + k: v for k, v in state['state_dict'].items()}}, prefixed)
    torch.save({'state_dict': {'linear.weight': state['state_dict']['linear.weight']}}, partial)
    for path, message in ((empty, 'has no weights'), (prefixed, 'loads nothing into ToyRegressor'),
                          (partial, r'1 model tensor\(s\) not in the checkpoint')):
        runner = CheckedLoadRunner.from_cfg(toy_cfg(tmp_path / 'test', load_from=path))
        with pytest.raises(CheckpointMismatchError, match=message):
            runner.test()
    # training from another stage's checkpoint may miss tensors, but must load something
    for path in (empty, prefixed):
        runner = CheckedLoadRunner.from_cfg(toy_cfg(tmp_path / 'load', load_from=path))
        with pytest.raises(CheckpointMismatchError):
            runner.train()
    runner = CheckedLoadRunner.from_cfg(
        toy_cfg(tmp_path / 'load', load_from=partial, **{'train_cfg.max_iters': 1}))
    runner.train()
    runner = CheckedLoadRunner.from_cfg(toy_cfg(tmp_path / 'ok', load_from=good))
    assert runner.test()['mse'] >= 0


def test_tools_test_refuses_a_checkpoint_under_a_prefix(tmp_path):
    """tools/test.py scored a random model and exited 0 before."""
    good = toy_checkpoint(tmp_path)
    state = torch.load(good, weights_only=True)
    prefixed = str(tmp_path / 'prefixed.pth')
    torch.save({'state_dict': {'model.' + k: v for k, v in state['state_dict'].items()}}, prefixed)
    test_tool = load_tool('test.py')
    args = ['tools/test.py', ITER_CONFIG, prefixed, '--work-dir', str(tmp_path / 'eval')]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr('sys.argv', args)
        with pytest.raises(CheckpointMismatchError, match='loads nothing'):
            test_tool.main()
    assert not osp.isfile(tmp_path / 'eval' / 'test_metrics.json')


def resume_args(work_dir, resume='auto', cfg_options=None) -> argparse.Namespace:
    return argparse.Namespace(
        launcher='none',
        cfg_options=cfg_options,
        work_dir=str(work_dir),
        amp=False,
        auto_scale_lr=False,
        resume=resume)


def test_resume_in_an_empty_work_dir_is_an_error(tmp_path):
    train_tool = load_tool('train.py')
    with pytest.raises(FileNotFoundError, match='no complete checkpoint in'):
        train_tool.apply_args(Config.fromfile(ITER_CONFIG), resume_args(tmp_path))


def test_truncated_last_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    cfg = toy_cfg(tmp_path, **{'train_cfg.max_iters': 8})
    CheckedLoadRunner.from_cfg(cfg).train()
    last = osp.join(tmp_path, 'iter_8.pth')
    assert open(osp.join(tmp_path, 'last_checkpoint')).read().strip() == last
    with open(last, 'rb') as f:
        data = f.read()
    with open(last, 'wb') as f:  # a kill / full disk while writing
        f.write(data[:len(data) // 2])
    os.utime(last)
    train_tool = load_tool('train.py')
    resumed = train_tool.apply_args(Config.fromfile(ITER_CONFIG), resume_args(tmp_path))
    assert resumed.load_from == osp.join(tmp_path, 'iter_4.pth') and resumed.resume
    assert f'skipping checkpoint {last}: it is truncated' in capsys.readouterr().out
    with pytest.raises(RuntimeError, match='is unusable: it is truncated'):
        train_tool.apply_args(Config.fromfile(ITER_CONFIG), resume_args(tmp_path, resume=last))
    os.remove(osp.join(tmp_path, 'iter_4.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) is None


def test_deepspeed_checkpoint_directory_is_resumable_unless_truncated(tmp_path):
    """DeepSpeedStrategy saves ``iter_N.pth/`` as a directory of ``*_states.pt`` archives."""
    ckpt = tmp_path / 'iter_2.pth'
    ckpt.mkdir()
    assert 'without DeepSpeed model states' in checkpoint_problem(str(ckpt))
    for name in ('zero_pp_rank_0_mp_rank_00_model_states.pt',
                 'zero_pp_rank_0_mp_rank_00_optim_states.pt'):
        torch.save({'module': torch.ones(3)}, ckpt / name)
    assert checkpoint_problem(str(ckpt)) is None
    train_tool = load_tool('train.py')
    resumed = train_tool.apply_args(
        Config.fromfile(ITER_CONFIG), resume_args(tmp_path, resume=str(ckpt)))
    assert resumed.load_from == str(ckpt) and resumed.resume
    assert find_resumable_checkpoint(str(tmp_path)) == str(ckpt)
    optim = ckpt / 'zero_pp_rank_0_mp_rank_00_optim_states.pt'
    optim.write_bytes(optim.read_bytes()[:20])  # a kill while rank 0 wrote its shard
    problem = checkpoint_problem(str(ckpt))
    assert problem.startswith('zero_pp_rank_0_mp_rank_00_optim_states.pt: it is truncated')
    assert find_resumable_checkpoint(str(tmp_path)) is None


@pytest.mark.parametrize('where', ['child config', '--cfg-options'])
def test_top_level_key_typo_is_an_error(tmp_path, where):
    train_tool = load_tool('train.py')
    if where == 'child config':
        child = tmp_path / 'child.py'
        child.write_text(f"_base_ = ['{ITER_CONFIG}']\ntrian_cfg = dict(max_iters=2)\n")
        cfg, options = Config.fromfile(str(child)), None
    else:
        cfg, options = Config.fromfile(ITER_CONFIG), {'trian_cfg.max_iters': 2}
    with pytest.raises(ConfigKeyError, match='"trian_cfg".*did you mean "train_cfg"'):
        train_tool.apply_args(cfg, resume_args(tmp_path, resume=None, cfg_options=options))
    # helper variables and new settings of existing keys stay allowed
    train_tool.apply_args(
        Config.fromfile(ITER_CONFIG),
        resume_args(tmp_path, None, {
            'max_iters': 3,
            'train_cfg.max_iters': 3
        }))


class Payload:
    """An arbitrary class: unpickling it can run code."""


def test_force_no_weights_only_env_does_not_disable_the_protection(tmp_path, monkeypatch):
    path = str(tmp_path / 'untrusted.pth')
    torch.save({'state_dict': {}, 'payload': Payload()}, path)
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(path, map_location='cpu')  # load_from, --resume, test.py, inferencer
