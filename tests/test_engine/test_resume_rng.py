"""A killed and resumed run is the same run bit for bit: the random generators are checkpointed
(RNGStateHook) and restored after the dataloader skip of an iteration-based loop."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from toy_model import SimulatedKill

from mmvisionllm.engine import CheckedLoadRunner

CONFIG = osp.join(osp.dirname(__file__), '..', 'data', 'configs', 'toy_regression_iter.py')


def toy_runner(work_dir: str, kill_after_iter: int = None, resume_from: str = None):
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir) + str(kill_after_iter) + str(resume_from)
    cfg.custom_hooks = [dict(type='SimulatedKillHook', kill_after_iter=kill_after_iter)]
    if resume_from is not None:
        cfg.resume, cfg.load_from = True, resume_from
    return CheckedLoadRunner.from_cfg(cfg)


def losses(runner) -> list:
    return list(runner.message_hub.get_scalar('train/loss_mse').data[0])


@pytest.mark.parametrize('kill_after', [8, 20])  # before a validation / after the epoch boundary
def test_resumed_toy_run_equals_the_uninterrupted_one(tmp_path, kill_after):
    full = toy_runner(str(tmp_path / 'full'))
    full.train()
    killed = toy_runner(str(tmp_path / 'killed'), kill_after_iter=kill_after)
    with pytest.raises(SimulatedKill):
        killed.train()
    checkpoint = osp.join(killed.work_dir, f'iter_{kill_after}.pth')
    assert len(torch.load(checkpoint, weights_only=True)['rng_states']) == 1  # one rank
    resumed = toy_runner(str(tmp_path / 'killed'), resume_from=checkpoint)
    resumed.train()
    assert resumed.iter == full.iter == 24
    # the message hub keeps the losses of the killed segment and continues them
    assert losses(resumed) == losses(full)
    for (name, a), b in zip(resumed.model.state_dict().items(), full.model.state_dict().values()):
        assert torch.equal(a, b), name
