"""Test a checkpoint, the mmdet way: ``python tools/test.py CONFIG CHECKPOINT [--work-dir D]``.

``--show-dir DIR`` draws every test sample (``VisionLLMVisualizationHook`` with the config's
visualizer) into ``<work_dir>/<timestamp>/DIR/<task>/``, as mmdet's ``--show-dir``.

The metrics are also written to ``<work_dir>/test_metrics.json`` (read by
``tools/analysis_tools/compare_baselines.py``).
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS

from mmvisionllm.engine import CheckedLoadRunner, check_config_keys, checkpoint_problem
from mmvisionllm.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help='draw every test sample into <work_dir>/<timestamp>/SHOW_DIR/<task>/')
    parser.add_argument('--show', action='store_true', help='show the drawn samples in a window')
    parser.add_argument(
        '--show-score-thr', type=float, default=0.3, help='score threshold of drawn predictions')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. --cfg-options test_dataloader.batch_size=2')
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


def trigger_visualization_hook(cfg: Config, args: argparse.Namespace) -> Config:
    """Turn on the visualisation hook (added when the config has none), as mmdet's test.py."""
    hooks = cfg.setdefault('default_hooks', {})
    hook = hooks.get('visualization') or dict(type='mmvisionllm.VisionLLMVisualizationHook')
    hook.update(draw=True, score_thr=args.show_score_thr)
    if args.show:
        hook['show'] = True
    if args.show_dir:
        hook['test_out_dir'] = args.show_dir
    hooks['visualization'] = hook
    return cfg


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    problem = checkpoint_problem(args.checkpoint)
    if problem is not None:
        raise RuntimeError(f'checkpoint {args.checkpoint} is unusable: {problem}')
    cfg = Config.fromfile(args.config)
    check_config_keys(cfg, args.cfg_options)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    # CheckedLoadRunner tests strictly: a checkpoint that does not fill the whole model is refused
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else CheckedLoadRunner.from_cfg(cfg)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl/.pickle file, got {args.out}')
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    metrics = runner.test()
    out_json = osp.join(cfg.work_dir, 'test_metrics.json')
    with open(out_json, 'w') as f:
        json.dump({
            k: float(v) if isinstance(v, (int, float)) else v
            for k, v in metrics.items()
        },
                  f,
                  indent=2,
                  sort_keys=True)
    print(f'metrics written to {out_json}')


if __name__ == '__main__':
    main()
