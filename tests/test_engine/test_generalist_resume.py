"""The tiny generalist with every decoder, killed after iteration 4 and resumed, equals the
uninterrupted run bit for bit: every loss of every step and every weight (RNGStateHook).

Before the fix the resumed run re-seeded the generators and its first step already differed (the
denoising queries, the diffusion noise and the region points are random)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from toy_model import SimulatedKill

from mmvisionllm.datasets.shapesworld import generate_shapesworld
from mmvisionllm.engine import CheckedLoadRunner
from mmvisionllm.registry import HOOKS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'visionllmv2', 'visionllmv2_tiny_shapesworld.py')
MAX_ITERS, KILL_AFTER = 12, 4


@HOOKS.register_module(force=True)
class RecordLossesHook(Hook):
    """Keeps (iteration, {loss name: value}) of every step."""
    priority = 'LOWEST'
    records = {}

    def __init__(self, run: str) -> None:
        self.run = run

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        RecordLossesHook.records.setdefault(self.run, []).append((runner.iter + 1, {
            k:
            float(torch.as_tensor(v).detach())
            for k, v in outputs.items() if 'loss' in k
        }))


def generalist_runner(work_dir: str, run: str, kill_after: int = None, resume_from: str = None):
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.experiment_name = run
    cfg.merge_from_dict({
        'train_cfg.max_iters':
        MAX_ITERS,
        'train_dataloader.num_workers':
        0,
        'train_dataloader.persistent_workers':
        False,
        'train_dataloader.batch_size':
        2,
        'train_dataloader.batch_sampler.group_ratios':
        dict(det=0.3, pose=0.2, text=0.2, gen=0.15, edit=0.15),
        'default_hooks.checkpoint.interval':
        KILL_AFTER,
        'param_scheduler': [dict(type='ConstantLR', factor=1.0, by_epoch=False)],
        'custom_hooks': [
            dict(type='SimulatedKillHook', kill_after_iter=kill_after),
            dict(type='RecordLossesHook', run=run)
        ]
    })
    if resume_from is not None:
        cfg.resume, cfg.load_from = True, resume_from
    return CheckedLoadRunner.from_cfg(cfg)


@pytest.mark.slow
def test_resumed_generalist_equals_the_uninterrupted_run(tmp_path, monkeypatch):
    generate_shapesworld(
        str(tmp_path / 'data' / 'shapesworld'), num_train=24, num_val=4, show_progress=False)
    monkeypatch.chdir(tmp_path)  # the config reads data/shapesworld/
    RecordLossesHook.records.clear()
    full = generalist_runner('full', 'full')
    full.train()
    killed = generalist_runner('killed', 'killed', kill_after=KILL_AFTER)
    with pytest.raises(SimulatedKill):
        killed.train()
    resumed = generalist_runner(
        'killed', 'resumed', resume_from=osp.join('killed', f'iter_{KILL_AFTER}.pth'))
    resumed.train()

    records = RecordLossesHook.records
    assert [i for i, _ in records['resumed']] == list(range(KILL_AFTER + 1, MAX_ITERS + 1))
    after_kill = records['full'][KILL_AFTER:]
    assert records['resumed'] == after_kill  # every loss of every step, bit for bit
    terms = {name for _, losses in after_kill for name in losses}
    for decoder in ('loss_det_', 'loss_pose_', 'loss_gen_', 'loss_edit_', 'loss_det_mask'):
        assert any(name.startswith(decoder) for name in terms), (decoder, sorted(terms))
    for (name, a), b in zip(resumed.model.state_dict().items(), full.model.state_dict().values()):
        assert torch.equal(a, b), name
