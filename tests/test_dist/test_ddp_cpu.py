"""Two processes on a CPU (torchrun + gloo through tools/dist_train.sh) train the tiny generalist,
under DDP (mmengine Runner) and under FSDP (FlexibleRunner + FSDPStrategy, the 7B fragment).

Every step of tests/data/configs/ddp_tiny_det_seg.py gives rank 0 two [SEG] samples and rank 1
two [DET] samples of the same scenes. Before the rank-uniform mask branch, rank 1 skipped the
mask loss and its ``reduce_mean``, and the ranks' collectives went out of step (gloo: a collective
mismatch; NCCL: a hang). Now:

* the run ends, within a timeout;
* both ranks hold the same parameters;
* they equal (within 1e-5) those of one process trained on the same global batches of 4 (the
  LM loss is normalised over the target tokens of all ranks, the decoders' losses over their
  all-rank counts, so DDP's averaged gradient is that of the global batch);
* two processes resumed from the step-2 checkpoint end with the same parameters;
* FSDP: the same parameters as one process, saved by rank 0 as one consolidated checkpoint with
  the plain model's keys (what tools/test.py and the inferencer load), and resumed identically;
* DeepSpeed ZeRO-2 (DS_ACCELERATOR=cpu): the same, its partitioned checkpoint consolidated by
  tools/model_converters/consolidate_checkpoint.py.

The config's optimiser is SGD: Adam divides each coordinate by its own gradient scale, which makes
float rounding in near-zero gradient coordinates (batched 4 vs 2 + 2) into steps of up to the
learning rate (measured: 4e-5 apart after 4 AdamW steps at 1e-4), so the comparison would measure
rounding rather than the distributed arithmetic; SGD keeps it linear in the gradients.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'ddp_tiny_det_seg.py')
FSDP_CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'fsdp_tiny_det_seg.py')
DS_CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'deepspeed_tiny_det_seg.py')
TIMEOUT = 600  # a hang (the old behaviour over NCCL) fails the test instead of blocking the suite


def _env(port: int) -> dict:
    bin_dir = osp.dirname(sys.executable)  # dist_train.sh calls `python`: the venv's
    return dict(
        os.environ,
        PATH=bin_dir + os.pathsep + os.environ.get('PATH', ''),
        PYTHONPATH=osp.join(REPO, 'tests', 'data'),
        PORT=str(port),
        OMP_NUM_THREADS='1',
        DS_ACCELERATOR='cpu')


def _start(args, cwd, port):
    return subprocess.Popen(
        args, cwd=cwd, env=_env(port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc) -> str:
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f'timed out after {TIMEOUT} s (hang?):\n{out[-4000:]}')
    assert proc.returncode == 0, out[-6000:]
    return out


def _train_one(work_dir, cwd, port):
    return _start([
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'), CONFIG, '--work-dir', work_dir, '--cfg-options',
        'train_dataloader.batch_size=4'
    ], cwd, port)


def _train_two(work_dir, cwd, port, *extra, config=CONFIG):
    return _start([
        'bash',
        osp.join(REPO, 'tools', 'dist_train.sh'), config, '2', '--work-dir', work_dir, *extra
    ], cwd, port)


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp('ddp')
    subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'misc', 'generate_shapesworld.py'), '--out-dir', 'data/shapesworld',
        '--num-train', '12', '--num-val', '2', '--img-size', '128', '--no-progress'
    ],
                   cwd=root,
                   check=True,
                   timeout=300)
    return root


@pytest.fixture(scope='module')
def one_process(workspace) -> str:
    """Work dir of one process trained on the global batches of 4."""
    work_dir = str(workspace / 'one')
    _finish(_train_one(work_dir, workspace, 29631))
    return work_dir


def _checkpoint_state(path: str) -> dict:
    return torch.load(path, weights_only=False)['state_dict']


@pytest.mark.slow
def test_two_cpu_ranks_with_and_without_seg_match_one_process(workspace, one_process):
    one = one_process
    two, resumed = (str(workspace / name) for name in ('two', 'resumed'))
    _finish(_train_two(two, workspace, 29632))

    load = torch.load
    rank0, rank1 = load(osp.join(two, 'params_rank0.pth')), load(osp.join(two, 'params_rank1.pth'))
    assert _max_diff(rank0, rank1) == 0.0
    single = load(osp.join(one, 'params_rank0.pth'))
    init = load(osp.join(one, 'init_rank0.pth'))
    assert _max_diff(init, load(osp.join(two, 'init_rank0.pth'))) == 0.0
    assert _max_diff(single, init) > 1e-3  # it trained: the comparison below is not vacuous
    assert _max_diff(single, rank0) <= 1e-5
    # the mask branch learnt from rank 0's [SEG] samples on both ranks
    mask_key = next(k for k in rank0 if 'mask_head.mask_embed' in k)
    assert float((rank1[mask_key] - init[mask_key]).abs().max()) > 1e-4

    os.makedirs(resumed)
    shutil.copy(osp.join(two, 'iter_2.pth'), osp.join(resumed, 'iter_2.pth'))
    log = _finish(
        _train_two(resumed, workspace, 29633, '--resume', osp.join(resumed, 'iter_2.pth')))
    assert 'resumed' in log.lower()
    assert osp.isfile(osp.join(resumed, 'iter_4.pth'))
    for rank in (0, 1):
        after_resume = load(osp.join(resumed, f'params_rank{rank}.pth'))
        assert _max_diff(after_resume, rank0) <= 1e-6, rank


@pytest.mark.slow
def test_fsdp_on_two_cpu_ranks_trains_saves_consolidated_and_resumes(workspace, one_process):
    fsdp, resumed = str(workspace / 'fsdp'), str(workspace / 'fsdp_resumed')
    start = osp.join(one_process, 'init_checkpoint.pth')  # the single process's initial weights
    _finish(
        _train_two(
            fsdp, workspace, 29641, '--cfg-options', f'load_from={start}', config=FSDP_CONFIG))
    plain = _checkpoint_state(osp.join(one_process, 'iter_4.pth'))
    consolidated = _checkpoint_state(osp.join(fsdp, 'iter_4.pth'))
    assert consolidated.keys() == plain.keys()  # the plain model's names, every tensor whole
    for key, value in plain.items():
        assert consolidated[key].shape == value.shape, key
    assert _max_diff(consolidated, plain) <= 1e-5

    os.makedirs(resumed)
    shutil.copy(osp.join(fsdp, 'iter_2.pth'), osp.join(resumed, 'iter_2.pth'))
    log = _finish(
        _train_two(
            resumed,
            workspace,
            29642,
            '--resume',
            osp.join(resumed, 'iter_2.pth'),
            config=FSDP_CONFIG))
    assert 'resumed epoch: 0, iter: 2' in log
    assert _max_diff(_checkpoint_state(osp.join(resumed, 'iter_4.pth')), consolidated) == 0.0


@pytest.mark.slow
def test_deepspeed_zero2_on_two_cpu_ranks_trains_consolidates_and_resumes(workspace, one_process):
    pytest.importorskip('deepspeed')
    zero, resumed = str(workspace / 'zero2'), str(workspace / 'zero2_resumed')
    start = osp.join(one_process, 'init_checkpoint.pth')
    # DeepSpeedStrategy's load_from reads DeepSpeed directories only: start through init_cfg
    init = ['--cfg-options', 'model.init_cfg.type=Pretrained', f'model.init_cfg.checkpoint={start}']
    _finish(_train_two(zero, workspace, 29651, *init, config=DS_CONFIG))
    plain = _checkpoint_state(osp.join(one_process, 'iter_4.pth'))
    out = osp.join(zero, 'consolidated.pth')
    subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'model_converters', 'consolidate_checkpoint.py'),
        osp.join(zero, 'iter_4.pth'), out
    ],
                   check=True,
                   timeout=300)
    consolidated = _checkpoint_state(out)
    assert consolidated.keys() == plain.keys()
    assert _max_diff(consolidated, plain) <= 1e-5

    shutil.copytree(osp.join(zero, 'iter_2.pth'), osp.join(resumed, 'iter_2.pth'))
    log = _finish(
        _train_two(
            resumed,
            workspace,
            29652,
            '--resume',
            osp.join(resumed, 'iter_2.pth'),
            config=DS_CONFIG))
    assert 'resumed epoch: 0, iter: 2' in log
    assert _max_diff(load_params(resumed), load_params(zero)) == 0.0


def load_params(work_dir: str) -> dict:
    return torch.load(osp.join(work_dir, 'params_rank0.pth'))
