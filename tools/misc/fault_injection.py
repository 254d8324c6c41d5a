"""Kill a training run several times (SIGKILL, also while a checkpoint is written), resume it
each time, and check that its final weights equal those of an uninterrupted run.

Usage::

    python tools/misc/fault_injection.py CONFIG --work-dir DIR [--kills 4] [--seed 0]
        [--modes step,save,timer] [--cfg-options ...]

It runs ``tools/train.py CONFIG`` once without interruption (``DIR/uninterrupted``), then in
``DIR/killed`` starts the same training and kills it ``--kills`` times, cycling through the modes:

* ``step``: the training process sends itself SIGKILL at the start of a random iteration (the step
  in flight and everything since the last checkpoint are lost);
* ``save``: SIGKILL while the next checkpoint is written, after half of its bytes reached the file
  (a truncated ``iter_N.pth`` is left behind; MMEngine writes ``last_checkpoint`` only after the
  file, so the resume picks the previous one and ``tools/train.py --resume`` skips truncated ones);
* ``timer``: this script SIGKILLs the training's whole process group (dataloader workers included)
  after a random delay (between 20 % and 90 % of the uninterrupted run's wall time).

After each kill it restarts ``tools/train.py ... --resume`` (without ``--resume`` while no complete
checkpoint exists yet) and finally lets the run finish. The final checkpoints of both runs are
compared tensor by tensor with ``torch.equal``; the result is written to
``DIR/fault_injection.json`` and the exit status is 1 when they differ. The config must use
MMEngine's ``IterBasedTrainLoop`` (the kill iterations are drawn from ``train_cfg.max_iters``).
"""
import argparse
import json
import os
import os.path as osp
import random
import re
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(REPO, 'tools', 'train.py')
MODES = ('step', 'save', 'timer')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--kills', type=int, default=4, help='how many times to kill the run')
    parser.add_argument(
        '--modes',
        default='step,save,timer',
        help=f'comma-separated kill modes to cycle through, of {MODES}')
    parser.add_argument('--seed', type=int, default=0, help='seed of the kill points')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='passed to tools/train.py (e.g. train_cfg.max_iters=24)')
    args = parser.parse_args(argv)
    args.modes = args.modes.split(',')
    unknown = sorted(set(args.modes) - set(MODES))
    if unknown:
        parser.error(f'unknown kill mode(s) {unknown}; choose from {MODES}')
    return args


# ---------------------------------------------------------------- the training (child) process
def _sigkill_self() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _install_kill(mode: str, at_iter: int) -> None:
    """Arrange for this process to SIGKILL itself at iteration ``at_iter`` (mode step / save)."""
    from mmengine.fileio.backends import LocalBackend
    from mmengine.runner import Runner
    state = dict(iter=0)
    call_hook = Runner.call_hook

    def call_hook_and_kill(self, fn_name: str, **kwargs) -> None:
        state['iter'] = self.iter + 1
        if mode == 'step' and fn_name == 'before_train_iter' and self.iter + 1 == at_iter:
            print(f'fault injection: SIGKILL at the start of iteration {at_iter}', flush=True)
            _sigkill_self()
        return call_hook(self, fn_name, **kwargs)

    put = LocalBackend.put

    def put_and_kill(self, obj: bytes, filepath) -> None:
        if mode == 'save' and str(filepath).endswith('.pth') and state['iter'] >= at_iter:
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            print(f'fault injection: SIGKILL while writing {filepath}', flush=True)
            _sigkill_self()
        return put(self, obj, filepath)

    Runner.call_hook = call_hook_and_kill
    LocalBackend.put = put_and_kill


def child_main(argv: List[str]) -> None:
    """``--child MODE ITER -- <tools/train.py arguments>``: run tools/train.py with a kill."""
    mode, at_iter, train_args = argv[0], int(argv[1]), argv[3:]
    if mode in ('step', 'save'):
        _install_kill(mode, at_iter)
    sys.argv = [TRAIN] + train_args
    sys.path.insert(0, osp.dirname(TRAIN))
    import runpy
    runpy.run_path(TRAIN, run_name='__main__')


# ---------------------------------------------------------------- the controller
def max_iters_of(config: str, cfg_options: List[str]) -> int:
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(config)
    if cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o'] + cfg_options).o)
    loop = cfg.train_cfg.get('type', '')
    if 'IterBasedTrainLoop' not in loop:
        raise ValueError(f'{config}: fault injection needs an IterBasedTrainLoop, got {loop!r}')
    return int(cfg.train_cfg.max_iters)


def train_command(args: argparse.Namespace,
                  work_dir: str,
                  mode: str = 'none',
                  at_iter: int = 0) -> List[str]:
    from mmvisionllm.engine import find_resumable_checkpoint
    train_args = [args.config, '--work-dir', work_dir]
    if osp.isdir(work_dir) and find_resumable_checkpoint(work_dir) is not None:
        train_args.append('--resume')
    if args.cfg_options:
        train_args += ['--cfg-options'] + args.cfg_options
    return [sys.executable, osp.abspath(__file__), '--child', mode, str(at_iter), '--'] + train_args


def resumable_iter(work_dir: str) -> int:
    """The iteration of the checkpoint a --resume in ``work_dir`` would continue from (0: none)."""
    from mmvisionllm.engine import find_resumable_checkpoint
    path = find_resumable_checkpoint(work_dir) if osp.isdir(work_dir) else None
    match = re.search(r'iter_(\d+)\.pth$', path or '')
    return int(match.group(1)) if match else 0


def run(command: List[str], log_path: str, kill_after: Optional[float] = None) -> int:
    """Run ``command`` (its own process group); SIGKILL the group after ``kill_after`` seconds."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get('PYTHONPATH')) if p))
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(
            command,
            cwd=os.getcwd(),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            return proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return -signal.SIGKILL


def compare_weights(path_a: str, path_b: str) -> Dict[str, object]:
    import torch
    a = torch.load(path_a, map_location='cpu', weights_only=True)['state_dict']
    b = torch.load(path_b, map_location='cpu', weights_only=True)['state_dict']
    differing = sorted(k for k in a if k not in b or not torch.equal(a[k], b[k]))
    differing += sorted(k for k in b if k not in a)
    return dict(num_tensors=len(a), differing=differing, equal=not differing)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmvisionllm.utils import register_all_modules
    register_all_modules(init_default_scope=False)  # weights-only loading of the checkpoints
    max_iters = max_iters_of(args.config, args.cfg_options)
    rng = random.Random(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    reference_dir = osp.join(args.work_dir, 'uninterrupted')
    killed_dir = osp.join(args.work_dir, 'killed')

    start = time.time()
    rc = run(train_command(args, reference_dir), osp.join(args.work_dir, 'uninterrupted.log'))
    reference_time = time.time() - start
    if rc != 0:
        raise RuntimeError(f'the uninterrupted run failed (exit {rc}); see '
                           f'{args.work_dir}/uninterrupted.log')
    kills = []
    for k in range(args.kills):
        mode = args.modes[k % len(args.modes)]
        at_iter = rng.randint(min(resumable_iter(killed_dir) + 1, max_iters), max_iters)
        delay = rng.uniform(0.2, 0.9) * reference_time if mode == 'timer' else None
        log_path = osp.join(args.work_dir, f'killed_{k}.log')
        rc = run(train_command(args, killed_dir, mode, at_iter), log_path, kill_after=delay)
        kills.append(
            dict(
                mode=mode,
                iteration=at_iter if mode != 'timer' else None,
                delay_s=round(delay, 2) if delay else None,
                exit=rc))
        print(f'kill {k + 1}/{args.kills}: {mode} '
              f'({"after %.1f s" % delay if delay else "at iteration %d" % at_iter}), exit {rc}')
    rc = run(train_command(args, killed_dir), osp.join(args.work_dir, 'final.log'))
    if rc != 0:
        raise RuntimeError(f'the final resume failed (exit {rc}); see {args.work_dir}/final.log')
    final = f'iter_{max_iters}.pth'
    result = compare_weights(osp.join(reference_dir, final), osp.join(killed_dir, final))
    result.update(
        kills=kills,
        num_kills=sum(kill['exit'] == -signal.SIGKILL for kill in kills),
        config=args.config,
        cfg_options=args.cfg_options,
        max_iters=max_iters)
    with open(osp.join(args.work_dir, 'fault_injection.json'), 'w') as f:
        json.dump(result, f, indent=2)
    print(f'{result["num_kills"]} SIGKILLs, final weights of {final}: '
          f'{"bit-identical" if result["equal"] else "DIFFERENT"} to the uninterrupted run '
          f'({result["num_tensors"]} tensors, {len(result["differing"])} differ)')
    return 0 if result['equal'] else 1


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--child':
        child_main(sys.argv[2:])
    else:
        sys.exit(main())
