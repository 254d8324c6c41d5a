"""Time a VisionLLMv2 config: one train step per decoder group and one test batch per task.

Usage::

    python tools/analysis_tools/benchmark.py CONFIG [--steps 3] [--batch-size 8] [--threads 2]
        [--groups det pose] [--tasks det vqa] [--out bench.json] [--cfg-options ...]

For every decoder group of the training set (``det``, ``pose``, ``text``, ``gen``, ``edit``) it runs
``--warmup`` untimed and ``--steps`` timed train steps on fixed batches of that group (data loading
excluded, the config's optimizer wrapper included), and for every task of the test set it times
``model.test_step`` on one batch. Each timing is split into the model's parts:

* ``preprocess``: the data preprocessor (batching, padding, normalisation);
* ``vision``: CLIP tower, projector and region encoder (``encode_images``);
* ``llm``: the language model's forward passes (teacher-forced; generation for text answers);
* ``link``: reading the super-link hidden states (``super_link.extract``);
* ``decoder``: the decoders' ``loss``/``predict``;
* ``rest``: everything else — in a train step the backward pass and the optimizer update; for a
  model without these parts (a specialist) the whole forward/backward/update.

Other models (e.g. the mmdet specialists of ``configs/baselines/``) are timed as a whole, in one
group ``all``, so the generalist's step can be put beside a specialist's.

Peak memory is the process's peak resident set size after each part of the run (CPU), or the
peak CUDA allocation of each step when the model runs on a GPU. The model is built and initialised
from the config as ``tools/train.py`` would (random init unless the config loads weights).
"""
import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Dict, List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper

from mmvisionllm.datasets.samplers import sample_groups
from mmvisionllm.registry import DATASETS, MODELS
from mmvisionllm.utils import register_all_modules

PARTS = ('preprocess', 'vision', 'llm', 'link', 'decoder', 'rest')


def parse_args():
    parser = argparse.ArgumentParser(description='Time train steps and inference per task')
    parser.add_argument('config', help='model config')
    parser.add_argument('--steps', type=int, default=3, help='timed steps per group/task')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps before timing')
    parser.add_argument(
        '--batch-size', type=int, default=None, help="default: the config's train/test batch sizes")
    parser.add_argument('--groups', nargs='+', default=None, help='train groups (default: all)')
    parser.add_argument('--tasks', nargs='+', default=None, help='test tasks (default: all)')
    parser.add_argument('--no-train', action='store_true', help='skip the train steps')
    parser.add_argument('--no-test', action='store_true', help='skip the inference batches')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='write the figures as JSON here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, as in tools/train.py')
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0:
        parser.error(f'--steps must be >= 1 and --warmup >= 0, got {args.steps} and {args.warmup}')
    return args


def selected(available: Dict[str, List[int]], wanted: Optional[List[str]],
             what: str) -> Dict[str, List[int]]:
    """Pick the groups / tasks to time.

    Args:
        available (dict): Name -> dataset indices.
        wanted (list[str], optional): The names asked for; None takes every one.
        what (str): What the names are (for the error message).

    Returns:
        dict: The asked entries of ``available``.

    Raises:
        ValueError: A name that ``available`` lacks.
    """
    if wanted is None:
        return available
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise ValueError(f'unknown {what} {unknown or wanted}: the dataset has {sorted(available)}')
    return {name: indices for name, indices in available.items() if name in wanted}


def peak_memory_mib(device: str) -> float:
    """Peak CUDA allocation since the last reset, or the process's peak RSS (CPU)."""
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2**20
    # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PartTimer:
    """Accumulates wall time of the model's parts by wrapping their entry points."""

    def __init__(self, model, device: str) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)
        self.device = device
        self._depth = 0
        self._wrap(model.data_preprocessor, 'forward', 'preprocess')
        if not hasattr(model, 'super_link'):
            return  # another model (e.g. an mmdet specialist): total and preprocessing only
        self._wrap(model, 'encode_images', 'vision')
        self._wrap(model.llm, 'forward', 'llm')
        self._wrap(model.super_link, 'extract', 'link')
        for decoder in model.decoders.values():
            self._wrap(decoder, 'loss', 'decoder')
            self._wrap(decoder, 'predict', 'decoder')

    def _sync(self) -> None:
        if self.device.startswith('cuda'):
            torch.cuda.synchronize()

    def _wrap(self, obj, name: str, part: str) -> None:
        method = getattr(obj, name)

        def timed(*args, **kwargs):
            # only the outermost timed call counts (e.g. generation calls the LLM inside)
            if self._depth:
                return method(*args, **kwargs)
            self._depth += 1
            self._sync()
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._sync()
                self.seconds[part] += time.perf_counter() - start
                self._depth -= 1

        setattr(obj, name, timed)

    @contextmanager
    def measure(self, record: Dict[str, List[float]]):
        """Time one step; append total and per-part seconds to ``record``."""
        self.seconds.clear()
        if self.device.startswith('cuda'):
            torch.cuda.reset_peak_memory_stats()
        self._sync()
        start = time.perf_counter()
        yield
        self._sync()
        total = time.perf_counter() - start
        record['total'].append(total)
        for part in PARTS[:-1]:
            record[part].append(self.seconds.get(part, 0.0))
        record['rest'].append(max(total - sum(self.seconds.values()), 0.0))
        record['peak_mem_mib'].append(peak_memory_mib(self.device))


def groups_of(dataset) -> Dict[str, List[int]]:
    """Decoder group -> indices; one group ``all`` for datasets without tasks (mmdet's)."""
    if any(
            hasattr(obj, 'get_task') or hasattr(obj, 'task')
            for obj in [dataset] + list(getattr(dataset, 'datasets', []))):
        return sample_groups(dataset)
    return {'all': list(range(len(dataset)))}


def fixed_batches(indices: List[int], batch_size: int, count: int, rng: random.Random):
    """``count`` batches of dataset indices drawn from ``indices`` (repeats when too few)."""
    return [[indices[rng.randrange(len(indices))] for _ in range(batch_size)] for _ in range(count)]


def time_steps(timer: PartTimer, dataset, indices: List[int], batch_size: int, args,
               rng: random.Random, step) -> dict:
    """Run ``step(batch)`` on warm-up then timed batches of ``indices``; the timing summary."""
    batches = [
        pseudo_collate([dataset[i] for i in batch])
        for batch in fixed_batches(indices, batch_size, args.warmup + args.steps, rng)
    ]
    record = defaultdict(list)
    for batch in batches[:args.warmup]:
        step(batch)
    for batch in batches[args.warmup:]:
        with timer.measure(record):
            step(batch)
    return summarise(record, batch_size)


def summarise(record: Dict[str, List[float]], batch_size: int) -> dict:
    out = {key: statistics.median(values) for key, values in record.items()}
    out['batch_size'] = batch_size
    out['samples_per_s'] = batch_size / out['total'] if out['total'] else float('inf')
    return out


def print_table(title: str, rows: Dict[str, dict]) -> None:
    columns = ('total', ) + PARTS + ('samples_per_s', 'peak_mem_mib')
    print(f'\n{title} (median seconds per batch)')
    print('| ' + ' | '.join(('name', 'batch') + columns) + ' |')
    print('|' + '---|' * (len(columns) + 2))
    for name, row in rows.items():
        cells = [name, str(row['batch_size'])]
        cells += [
            f'{row[c]:.3f}' if c in PARTS or c == 'total' else f'{row[c]:.1f}' for c in columns
        ]
        print('| ' + ' | '.join(cells) + ' |')


def main() -> int:
    args = parse_args()
    register_all_modules()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)

    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(args.device)
    parameters = {
        name: sum(p.numel() for p in getattr(model, name).parameters())
        for name in ('vision_encoder', 'projector', 'region_encoder', 'llm', 'super_link',
                     'decoders') if getattr(model, name, None) is not None
    } or {
        'model': sum(p.numel() for p in model.parameters())
    }
    print('parameters (M): ' + ', '.join(f'{k} {v / 1e6:.2f}' for k, v in parameters.items()))
    timer = PartTimer(model, args.device)
    rng = random.Random(args.seed)
    results = dict(
        config=args.config,
        device=args.device,
        threads=torch.get_num_threads(),
        parameters=parameters,
        train={},
        test={})

    # both selections are checked before anything is timed: a mistyped name fails at once
    if not args.no_train:
        train_set = DATASETS.build(cfg.train_dataloader.dataset)
        train_groups = selected(groups_of(train_set), args.groups, 'groups')
    if not args.no_test:
        test_set = DATASETS.build(cfg.test_dataloader.dataset)
        by_task = defaultdict(list)
        for idx in range(len(test_set)):
            by_task[test_set.get_task(idx) if hasattr(test_set, 'get_task') else 'all'].append(idx)
        test_tasks = selected(dict(by_task), args.tasks, 'tasks')

    if not args.no_train:
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        batch_size = args.batch_size or cfg.train_dataloader.batch_size
        model.train()
        for group, indices in train_groups.items():
            results['train'][group] = time_steps(
                timer, train_set, indices, batch_size, args, rng,
                lambda batch: model.train_step(batch, optim_wrapper))
        print_table('train step per decoder group', results['train'])

    if not args.no_test:
        batch_size = args.batch_size or cfg.test_dataloader.batch_size
        model.eval()
        for task, indices in test_tasks.items():
            results['test'][task] = time_steps(timer, test_set, indices, batch_size, args, rng,
                                               model.test_step)
        print_table('inference (test_step) per task', results['test'])

    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
        print(f'\nwrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
