"""Train a model from a config, the mmdet way: ``python tools/train.py CONFIG [--work-dir D]
[--resume]``."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS

from mmvisionllm.engine import (CheckedLoadRunner, check_config_keys, checkpoint_problem,
                                find_resumable_checkpoint)
from mmvisionllm.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true', help='scale the LR by the batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; with no value, from the latest checkpoint in '
        'the work dir')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. --cfg-options train_cfg.max_epochs=2')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def apply_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the command-line flags into the config; refuse typos and a --resume with nothing."""
    check_config_keys(cfg, args.cfg_options)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print('AMP training is already enabled in the config.')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise RuntimeError('--auto-scale-lr needs `auto_scale_lr = dict(enable=..., '
                               'base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        # the newest complete checkpoint; truncated ones are skipped with a warning naming them
        resume_from = find_resumable_checkpoint(cfg.work_dir)
        if resume_from is None:
            raise FileNotFoundError(
                f'--resume: no complete checkpoint in {cfg.work_dir} to resume from; train '
                'without --resume to start a new run')
        cfg.resume = True
        cfg.load_from = resume_from
    elif args.resume is not None:
        if not osp.isfile(args.resume) and not osp.isdir(args.resume):  # DeepSpeed: a dir
            raise FileNotFoundError(f'--resume: checkpoint {args.resume} does not exist')
        problem = checkpoint_problem(args.resume)
        if problem is not None:
            raise RuntimeError(f'--resume: checkpoint {args.resume} is unusable: {problem}')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = apply_args(Config.fromfile(args.config), args)
    # CheckedLoadRunner: a load_from that loads nothing is refused, --resume loads strictly
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else CheckedLoadRunner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
