"""Training throughput of any config under any runner / strategy: tokens/s, samples/s, memory, MFU.

Usage::

    python tools/analysis_tools/throughput_benchmark.py CONFIG [--iters 5] [--warmup 2]
        [--peak-tflops P] [--out throughput.json] [--cfg-options ...]
    # several processes (DDP, or a FlexibleRunner config: DeepSpeed ZeRO, FSDP):
    python -m torch.distributed.run --nproc_per_node 8 \\
        tools/analysis_tools/throughput_benchmark.py CONFIG --launcher pytorch

It builds the runner exactly as ``tools/train.py`` does (``Runner``, or ``FlexibleRunner`` with
the config's ``strategy``), trains ``--warmup`` + ``--iters`` iterations of the config's own
dataloader (checkpointing off) and times the last ``--iters`` (data loading included, as in
training). A hook reads, per iteration, the LLM's ``attention_mask`` (real tokens and each
sample's length) and the number of CLIP tiles.

FLOPs per step (:mod:`mmvisionllm.utils.flops`):

* LLM ``6 * N_llm * T + 12 * L * d * sum_b(s_b ** 2)`` (N_llm: transformer layers + LM head;
  T: real tokens; s_b: length of sample b);
* vision tower ``2 * N_vis * T_vis + 4 * L_vis * d_vis * sum_tiles(s ** 2)`` (x3 if it trains);
* decoders (and the projector / region encoder): counted by ``torch.utils.flop_counter.
  FlopCounterMode`` over one more forward + backward of a training batch after the run: its total
  minus what it counted in the LLM and the vision tower (matmul/conv/SDPA — mmcv's grid_sample
  deformable attention is not counted, so it is a lower bound; 0 where the counter cannot run
  under a strategy). That one batch's count is added to every step: for a config that mixes
  decoder groups, time one group at a time (``--cfg-options
  train_dataloader.batch_sampler.group_ratios.<group>=...``) for an exact MFU.

``MFU = FLOPs per step / step seconds / (world_size * peak FLOP/s)``. The peak is ``--peak-tflops``
per device, else the dense bf16 peak of a known GPU (H100/H200 989, A100 312 TFLOP/s), else on a
CPU the fp32 matmul rate measured here (so a CPU MFU is relative to what this CPU's GEMM reaches
with the threads torch uses). Peak memory: ``torch.cuda.max_memory_allocated`` per GPU, or the
process's peak RSS on a CPU.
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import tempfile
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

from mmvisionllm.utils import register_all_modules
from mmvisionllm.utils.flops import (count_flops, known_peak_flops, llm_step_flops,
                                     measured_matmul_flops, mfu, vision_step_flops)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Training throughput and MFU of a config')
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=5, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument(
        '--peak-tflops',
        type=float,
        default=None,
        help='peak TFLOP/s of one device (default: see the module docstring)')
    parser.add_argument(
        '--no-flop-count',
        action='store_true',
        help='skip FlopCounterMode (decoder FLOPs then count 0)')
    parser.add_argument('--work-dir', default=None, help='default: a temporary directory')
    parser.add_argument('--out', default=None, help='write the figures as JSON here')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error(f'--iters must be >= 1 and --warmup >= 0, got {args.iters}, {args.warmup}')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def benchmark_config(args: argparse.Namespace) -> Config:
    """The config with the benchmark's schedule: warm-up + timed iterations, no checkpoints."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or tempfile.mkdtemp(prefix='throughput_')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=args.warmup + args.iters)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**9)
    cfg.resume, cfg.load_from = False, cfg.get('load_from')
    return cfg


def _numel(param: torch.Tensor) -> int:
    """Elements of a parameter; ZeRO-3 empties ``param`` and keeps the count in ``ds_numel``."""
    return int(getattr(param, 'ds_numel', param.numel()))


def _count_params(module: torch.nn.Module, skip=()) -> int:
    skip_ids = {id(p) for m in skip for p in m.parameters()}
    return sum(_numel(p) for p in module.parameters() if id(p) not in skip_ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside DDP / FSDP / mmengine's DeepSpeed engine wrapper."""
    for _ in range(3):
        inner = getattr(model, 'module', None)
        if not isinstance(inner, torch.nn.Module):
            break
        model = inner
    return model


def model_shape(model) -> dict:
    """Parameter counts, layers and widths the FLOP formula needs."""
    hf = model.llm.model
    config = hf.config
    embed = hf.get_input_embeddings()
    shape = dict(
        llm_params=_count_params(hf, skip=[embed]) +
        (_numel(embed.weight) if getattr(config, 'tie_word_embeddings', False) else 0),
        llm_layers=config.num_hidden_layers,
        llm_hidden=config.hidden_size)
    clip = getattr(model.vision_encoder, 'clip', model.vision_encoder)
    vconfig = getattr(clip, 'config', None)
    shape.update(
        vision_params=_count_params(model.vision_encoder),
        vision_layers=getattr(vconfig, 'num_hidden_layers', 0),
        vision_hidden=getattr(vconfig, 'hidden_size', 0),
        vision_trains=any(p.requires_grad for p in model.vision_encoder.parameters()))
    return shape


class ThroughputHook(Hook):
    """Times iterations and reads the token and tile counts of each (see the module doc)."""

    priority = 'VERY_LOW'

    def __init__(self, warmup: int, count: bool) -> None:
        self.warmup, self.count = warmup, count
        self.records, self.flops_by_module = [], {}
        self._lens, self._tiles, self._counter = [], [], None

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        self.model = model
        self.shape = model_shape(model)
        if isinstance(runner.model, FSDP) and get_world_size() > 1:
            # use_orig_params: each rank's parameters are disjoint views of its shard
            keys = ('llm_params', 'vision_params')
            counts = torch.tensor([self.shape[k] for k in keys],
                                  dtype=torch.float64,
                                  device='cuda' if torch.cuda.is_available() else 'cpu')
            all_reduce(counts)
            self.shape.update({k: int(v) for k, v in zip(keys, counts.tolist())})

        def read_mask(_module, _args, kwargs):
            mask = kwargs.get('attention_mask')
            if mask is not None:
                self._lens.extend(int(v) for v in mask.sum(dim=1))

        def read_tiles(_module, _args, output):
            features = output[0] if isinstance(output, (tuple, list)) else output
            if torch.is_tensor(features) and features.dim() == 3:
                self._tiles.extend([features.shape[1]] * features.shape[0])

        model.llm.register_forward_pre_hook(read_mask, with_kwargs=True)
        model.vision_encoder.register_forward_hook(read_tiles)

    def _sync(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._lens, self._tiles = [], []
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self._sync()
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._sync()
        seconds = time.perf_counter() - self._start
        if runner.iter < self.warmup:
            return
        samples = len(data_batch['data_samples']) if isinstance(data_batch, dict) else 0
        memory = (torch.cuda.max_memory_allocated() if torch.cuda.is_available() else
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
        self.records.append(
            dict(
                seconds=seconds,
                samples=samples,
                lens=list(self._lens),
                tiles=list(self._tiles),
                peak_mem_mib=memory))


def decoder_flops(model, data_batch) -> float:
    """Counted FLOPs of one forward + backward of ``data_batch`` outside the LLM and the vision
    tower (decoders, projector, region encoder; 0 if the counter cannot run)."""

    def run():
        data = model.data_preprocessor(data_batch, True)
        losses = model(**data, mode='loss')
        sum(v.sum() for k, v in losses.items() if k.startswith('loss')).backward()
        model.zero_grad(set_to_none=True)

    try:
        counts = count_flops(run, depth=2)
    except Exception as error:  # noqa: BLE001 (a strategy the counter does not support)
        print(f'FlopCounterMode could not run ({type(error).__name__}: {error}); decoders = 0')
        return 0.0
    modelled = sum(v for k, v in counts.items()
                   if k.split('.')[1:] in (['llm'], ['vision_encoder']))
    return max(counts['total'] - modelled, 0.0)


def summarise(hook: ThroughputHook, world_size: int, peak: float, decoders: float) -> dict:
    """Per-step medians, global rates and MFU."""
    shape = hook.shape
    rows = []
    for rec in hook.records:
        flops = llm_step_flops(shape['llm_params'], shape['llm_layers'], shape['llm_hidden'],
                               rec['lens'])
        flops += vision_step_flops(shape['vision_params'], shape['vision_layers'],
                                   shape['vision_hidden'], rec['tiles'], shape['vision_trains'])
        rows.append(dict(rec, tokens=sum(rec['lens']), flops=flops + decoders))
    totals = torch.tensor([[r['tokens'], r['samples'], r['flops']] for r in rows],
                          dtype=torch.float64)
    if world_size > 1:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
        totals = totals.to(device)
        all_reduce(totals)
        totals = totals.cpu()
    seconds = statistics.median(r['seconds'] for r in rows)
    tokens, samples, flops = (statistics.median(totals[:, i].tolist()) for i in range(3))
    return dict(
        world_size=world_size,
        step_seconds=seconds,
        samples_per_s=samples / seconds,
        tokens_per_s=tokens / seconds,
        peak_mem_mib=max(r['peak_mem_mib'] for r in rows),
        step_tflop=flops / 1e12,
        achieved_tflops=flops / seconds / 1e12,
        peak_tflops_per_device=peak / 1e12 if peak else None,
        mfu=mfu(flops, seconds, peak, world_size),
        decoder_tflop_per_rank=decoders / 1e12,
        **shape)


def format_table(name: str, strategy: str, result: dict) -> str:
    """One markdown table row set for the result."""
    mfu_text = f"{result['mfu'] * 100:.2f} %" if result['mfu'] is not None else 'n/a'
    peak = result['peak_tflops_per_device']
    lines = [
        '| config | strategy | ranks | step s | samples/s | tokens/s | peak MiB/rank | '
        'TFLOP/step | TFLOP/s | peak TFLOP/s/dev | MFU |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
        f"| {name} | {strategy} | {result['world_size']} | {result['step_seconds']:.3f} | "
        f"{result['samples_per_s']:.2f} | {result['tokens_per_s']:.1f} | "
        f"{result['peak_mem_mib']:.0f} | {result['step_tflop']:.4f} | "
        f"{result['achieved_tflops']:.4f} | {peak if peak is None else round(peak, 3)} | "
        f'{mfu_text} |'
    ]
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = benchmark_config(args)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    hook = ThroughputHook(args.warmup, not args.no_flop_count)
    runner.register_hook(hook)
    runner.train()
    model = hook.model
    decoders = 0.0
    if not args.no_flop_count and model.decoders:
        batch = next(iter(runner.train_dataloader))
        decoders = decoder_flops(model, batch)
    device = next(model.parameters()).device
    peak = args.peak_tflops * 1e12 if args.peak_tflops else known_peak_flops(device)
    if peak is None and device.type == 'cpu':
        peak = measured_matmul_flops()
    result = summarise(hook, get_world_size(), peak, decoders)
    strategy = cfg.get('strategy', {}).get('type') if 'runner_type' in cfg else (
        'DDP' if get_world_size() > 1 else 'single process')
    result.update(config=args.config, strategy=strategy, iters=args.iters)
    if is_main_process():
        print(format_table(osp.basename(args.config), strategy, result))
        if args.out:
            with open(args.out, 'w') as f:
                json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
