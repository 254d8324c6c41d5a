"""A Runner killed mid-training resumes from the saved iteration with identical state (torch>=2.6),
and ends where an uninterrupted run ends."""
import copy
import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from toy_model import SimulatedKill

from mmvisionllm.registry import HOOKS

CONFIG = osp.join(osp.dirname(__file__), '..', 'data', 'configs', 'toy_regression.py')


@HOOKS.register_module(force=True)
class RecordStartStateHook(Hook):
    """Records the loop position and optimizer state when training (re)starts."""
    records = []

    def before_train(self, runner) -> None:
        RecordStartStateHook.records.append(
            dict(
                iter=runner.iter,
                epoch=runner.epoch,
                optimizer=copy.deepcopy(runner.optim_wrapper.state_dict())))


def build_runner(work_dir: str, kill_after_epoch: int = None, resume_from: str = None) -> Runner:
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.custom_hooks = [
        dict(type='SimulatedKillHook', kill_after_epoch=kill_after_epoch),
        dict(type='RecordStartStateHook')
    ]
    if resume_from is not None:
        cfg.resume = True
        cfg.load_from = resume_from
    return Runner.from_cfg(cfg)


def assert_same_state(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same_state(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_state(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


def test_killed_run_resumes_with_identical_state(tmp_path):
    RecordStartStateHook.records.clear()
    killed = build_runner(str(tmp_path / 'killed'), kill_after_epoch=2)
    with pytest.raises(SimulatedKill):
        killed.train()
    ckpt_path = osp.join(killed.work_dir, 'epoch_2.pth')
    iters_per_epoch = len(killed.train_dataloader)

    # MMEngine pickles HistoryBuffer, numpy values and a Counter: loadable with weights_only=True
    # thanks to mmvisionllm.utils.compat, no weights_only=False needed.
    checkpoint = torch.load(ckpt_path, map_location='cpu', weights_only=True)
    assert checkpoint['meta']['iter'] == 2 * iters_per_epoch

    resumed = build_runner(str(tmp_path / 'killed'), resume_from=ckpt_path)
    resumed.train()
    start = RecordStartStateHook.records[-1]
    assert start['iter'] == 2 * iters_per_epoch and start['epoch'] == 2
    assert_same_state(start['optimizer'], checkpoint['optimizer'])

    uninterrupted = build_runner(str(tmp_path / 'uninterrupted'))
    uninterrupted.train()
    assert resumed.iter == uninterrupted.iter == 4 * iters_per_epoch
    for (name, p_resumed), p_full in zip(resumed.model.named_parameters(),
                                         uninterrupted.model.parameters()):
        torch.testing.assert_close(p_resumed, p_full, msg=f'{name} differs after resume')


class NotAllowListed:
    """An arbitrary class: unpickling it could run code, so weights_only loading must refuse it."""


def test_weights_only_still_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / 'untrusted.pth'
    torch.save({'state_dict': {}, 'payload': NotAllowListed()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
