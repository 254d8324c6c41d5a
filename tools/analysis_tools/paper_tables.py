"""The paper's findings at tiny scale: its initialisation, its query and multi-task ablations.

    python tools/analysis_tools/paper_tables.py [--out-dir work_dirs/paper_tables]
        [--seeds 0 1 2] [--jobs 2] [--quick]   # or: make paper-tables

VisionLLM v2 never trains its decoders from scratch: they start from Grounding DINO-T and
UniPose-T, the LLM from a trained MLLM, and stage 2 then trains everything together. This runs that
protocol on ShapesWorld with the tools and configs users run (``tools/train.py``,
``tools/test.py``, ``compose_checkpoint.py``, ``gdino_to_link_decoder.py``), each run in its own
work dir under ``--out-dir`` with the config it trained (``train_config.py``) and its logs:

1. **Specialists** (``pretrain/``, seed 0, once, like a released checkpoint): mmdet's Grounding
   DINO with a small BERT trained with it (``grounding_dino_tiny_shapesworld.py``),
   DINO with the generalist's mask branch (``dino_tiny_shapesworld_seg``) and the pose specialist.
2. **Generalist with the paper's initialisation** (``seed<S>/generalist_n4``): the det decoder from
   the Grounding DINO specialist (converted), the pose decoder from the pose specialist, LLM,
   projector, region encoder and CLIP from the demo's text stages (``--text-stages``, trained here
   when absent), then stage 2 (``visionllmv2_tiny_paper_protocol_shapesworld.py``). Each specialist
   gets as many further steps on its data (``seed<S>/specialist_*``), at the same learning rate and
   schedule shape, as the generalist gives its decoder group.
3. **Query ablation**: the same with N = 1 and 8 link queries for both the det and pose groups.
4. **Multi-task conflict**: each decoder group trained through the generalist alone (its own steps
   only) against all together, and all together with one query table shared by the groups.

Every seed varies what follows the specialists (stage 2, the specialists' further steps); figures
are the mean and standard deviation over the seeds, and an effect counts only where the difference
of the means exceeds the larger of the two spreads. Nothing is chosen on the val subsets the
tables report: the schedules are fixed here in advance (``SCHEDULES``). Finished runs are reused
(``result.json`` records the config it came from; a changed config reruns). ``--quick`` shortens
every schedule and test to a smoke test. The tables go to ``OUT_DIR/paper_tables.md``.
"""
import argparse
import fnmatch
import hashlib
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PY = sys.executable

GENERALIST = 'configs/visionllmv2/visionllmv2_tiny_paper_protocol_shapesworld.py'
VISION_STAGE = 'configs/visionllmv2/visionllmv2_tiny_shapesworld_vision_pretrain.py'
TEXT_STAGE = 'configs/visionllmv2/visionllmv2_tiny_shapesworld_text_warmup.py'
SPECIALISTS = {
    # name: (config, further-step config, test configs by label)
    'grounding': ('configs/baselines/grounding_dino_tiny_shapesworld.py', {
        'det': 'configs/baselines/grounding_dino_tiny_shapesworld.py',
        'rec': 'configs/baselines/grounding_dino_tiny_shapesworld_rec.py'
    }),
    'seg': ('configs/baselines/demo_schedule/dino_tiny_shapesworld_seg_demo.py', {
        'seg': 'configs/baselines/demo_schedule/dino_tiny_shapesworld_seg_demo.py'
    }),
    'pose': ('configs/baselines/demo_schedule/pose_tiny_specialist_shapesworld_demo.py', {
        'pose': 'configs/baselines/demo_schedule/pose_tiny_specialist_shapesworld_demo.py'
    }),
}
# the decoder group each specialist stands for, and how its weights reach the generalist
SPECIALIST_GROUP = {'grounding': 'det', 'seg': 'det', 'pose': 'pose'}

# Fixed in advance, never chosen on val. Specialists: 1500 iterations for grounding and pose, 600
# for seg (its mask branch costs about 1.3 s a step at one thread here); what this 2-core machine
# gives a one-off pretraining, not convergence. Stage 2: 200 iterations with the det and pose groups
# at 0.4 of the batches each (80 steps per decoder; 3 seeds x 9 runs fit in about an hour at two
# runs at a time); the specialists' further steps match that.
SCHEDULES = dict(
    full=dict(pretrain=dict(grounding=1500, seg=600, pose=1500), stage2=200, warmup=20),
    quick=dict(pretrain=dict(grounding=2, seg=2, pose=2), stage2=6, warmup=1))
GROUP_RATIOS = dict(det=0.4, pose=0.4, text=0.2)
STAGE2_LR = 2e-4  # the generalist's base rate (its config); the specialists' further steps too

# metric keys: (label, generalist key, specialist, specialist test, specialist key)
COMPARISON_ROWS = [
    ('box AP', 'det/bbox_mAP', 'grounding', 'det', 'coco/bbox_mAP'),
    ('mask AP', 'seg/segm_mAP', 'seg', 'seg', 'coco/segm_mAP'),
    ('REC P@0.5', 'grd/refcoco_precision@1', 'grounding', 'rec', 'refexp/refcoco_precision@1'),
    ('keypoint AP', 'pose/AP', 'pose', 'pose', 'coco/AP'),
]
# the paper's figures (COCO / RefCOCO val; DESIGN.md): generalist, specialist; None: not reported
PAPER_COMPARISON = {
    'box AP': (56.7, 57.2),
    'mask AP': (47.8, None),
    'REC P@0.5': (87.9, None),
    'keypoint AP': (74.0, 74.4)
}
PAPER_QUERIES = {'box AP': (50.4, 52.0, 52.1), 'keypoint AP': (43.0, 71.0, 71.6)}
QUERY_COUNTS = (1, 4, 8)


@dataclass
class Run:
    """One training run (or a reused checkpoint) and its tests.

    Attributes:
        name: work dir under the output dir, e.g. ``seed0/generalist_n4``.
        config: the config it starts from.
        seed: ``randomness.seed``.
        tests: label -> test config (the trained config when None).
        deps: runs that must finish first.
        edit: changes the loaded config (schedule, groups, N ...) before it is dumped.
        load: returns the ``load_from`` checkpoint (may compose it from the deps' results).
        tasks: the generalist tasks to test (None: the test config's own).
    """
    name: str
    config: str
    seed: int = 0
    tests: Dict[str, Optional[str]] = field(default_factory=dict)
    deps: Tuple[str, ...] = ()
    edit: Optional[Callable[[Config], None]] = None
    load: Optional[Callable[['Context'], Optional[str]]] = None
    tasks: Optional[Tuple[str, ...]] = None


@dataclass
class Context:
    out_dir: str
    quick: bool
    threads: int
    results: Dict[str, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def checkpoint(self, name: str) -> str:
        return self.results[name]['checkpoint']


# ---------------------------------------------------------------- config edits


def set_schedule(cfg: Config, iters: int, warmup: int, lr: Optional[float] = None) -> None:
    """Iteration-based schedule of ``iters`` steps: linear warm-up, then cosine; one checkpoint."""
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    cfg.val_cfg, cfg.val_dataloader, cfg.val_evaluator = None, None, None
    warmup = min(warmup, max(iters - 1, 1))
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup),
        dict(
            type='CosineAnnealingLR',
            eta_min=0.01 * (lr or cfg.optim_wrapper.optimizer.lr),
            by_epoch=False,
            begin=warmup,
            end=iters)
    ]
    if lr is not None:
        cfg.optim_wrapper.optimizer.lr = lr
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=iters, by_epoch=False, max_keep_ckpts=1)
    cfg.log_processor = dict(by_epoch=False)


def restrict_tasks(cfg: Config, tasks: Sequence[str]) -> None:
    """Train and test a generalist config on ``tasks`` only (datasets, group shares, metrics)."""
    train = cfg.train_dataloader.dataset
    train.datasets = [
        d for d in train.datasets
        if d['task'] in tasks or ('text' in tasks and d['task'] in ('vqa', 'caption', 'region'))
    ]
    groups = {'det' if t in ('det', 'seg', 'grd') else t for t in tasks}
    ratios = cfg.train_dataloader.batch_sampler.group_ratios
    cfg.train_dataloader.batch_sampler.group_ratios = {g: ratios[g] for g in ratios if g in groups}
    test = cfg.test_dataloader.dataset
    test.datasets = [d for d in test.datasets if d['task'] in tasks]
    test.max_samples = {k: v for k, v in test.max_samples.items() if k in tasks}
    cfg.test_evaluator = [m for m in cfg.test_evaluator if m['tasks'] in tasks]


def quick_data(cfg: Config, generalist: bool) -> None:
    """Smoke-test sizes: no loader workers, a couple of test samples per task."""
    for loader in ('train_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            cfg[loader].num_workers = 0
            cfg[loader].persistent_workers = False
    if not cfg.get('test_dataloader'):
        return
    dataset = cfg.test_dataloader.dataset
    if generalist:
        dataset.max_samples = {k: 2 for k in dataset.max_samples}
    elif 'indices' in dataset:
        dataset.indices = 2


# ---------------------------------------------------------------- running


def spec_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _call(args: List[str], log: str, threads: int) -> None:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    with open(log, 'w') as f:  # tools by their path in the repository, data paths from the cwd
        done = subprocess.run(
            [PY, osp.join(REPO, args[0])] + args[1:], stdout=f, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        with open(log) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'{" ".join(args[:3])} failed (exit {done.returncode}); log {log}:\n'
                           f'{tail}')


def execute(run: Run, ctx: Context) -> dict:
    """Train (unless reused) and test one run; returns its result record."""
    run_dir = osp.join(ctx.out_dir, run.name)
    os.makedirs(run_dir, exist_ok=True)
    cfg = Config.fromfile(osp.join(REPO, run.config))
    cfg.randomness = dict(seed=run.seed)
    if run.edit is not None:
        run.edit(cfg)
    if ctx.quick:
        quick_data(cfg, generalist=isinstance(cfg.get('test_evaluator'), list))
    if run.tasks is not None:
        restrict_tasks(cfg, run.tasks)
    cfg.work_dir = run_dir
    config_path = osp.join(run_dir, 'train_config.py')
    cfg.dump(config_path)
    # what the run depends on: its config, its tests and what its deps produced
    with open(config_path) as f:
        spec = spec_hash(f.read() + json.dumps(sorted(run.tests.items())) +
                         json.dumps([ctx.results[d]['spec'] for d in run.deps]))
    record_path = osp.join(run_dir, 'result.json')
    if osp.isfile(record_path):
        with open(record_path) as f:
            record = json.load(f)
        if record.get('spec') == spec and osp.isfile(record['checkpoint']):
            print(f'[paper_tables] reuse {run.name}', flush=True)
            return record
    start = time.perf_counter()
    cfg.load_from = run.load(ctx) if run.load is not None else None
    cfg.dump(config_path)
    print(f'[paper_tables] train {run.name} ({cfg.train_cfg.get("max_iters")} it)', flush=True)
    _call(['tools/train.py', config_path, '--work-dir', run_dir],
          osp.join(run_dir, 'train_stdout.log'), ctx.threads)
    with open(osp.join(run_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    train_s = time.perf_counter() - start
    metrics = {}
    for label, test_config in run.tests.items():
        test_dir = osp.join(run_dir, f'test_{label}')
        os.makedirs(test_dir, exist_ok=True)
        if test_config is None:
            test_path = config_path
        else:
            test_cfg = Config.fromfile(osp.join(REPO, test_config))
            if ctx.quick:
                quick_data(test_cfg, generalist=False)
            test_path = osp.join(test_dir, 'test_config.py')
            test_cfg.dump(test_path)
        _call(['tools/test.py', test_path, checkpoint, '--work-dir', test_dir],
              osp.join(test_dir, 'test_stdout.log'), ctx.threads)
        with open(osp.join(test_dir, 'test_metrics.json')) as f:
            metrics[label] = json.load(f)
    record = dict(
        spec=spec,
        checkpoint=checkpoint,
        metrics=metrics,
        train_s=round(train_s, 1),
        wall_s=round(time.perf_counter() - start, 1),
        max_iters=cfg.train_cfg.get('max_iters'),
        load_from=cfg.load_from)
    with open(record_path, 'w') as f:
        json.dump(record, f, indent=2, sort_keys=True)
    print(f'[paper_tables] done {run.name} in {record["wall_s"]:.0f} s', flush=True)
    return record


def run_all(runs: Sequence[Run], ctx: Context, jobs: int) -> None:
    """Run everything, each run once its deps are done, up to ``jobs`` at a time."""
    pending = {run.name: run for run in runs}
    names = [run.name for run in runs]
    for run in runs:
        unknown = [d for d in run.deps if d not in names]
        if unknown:
            raise ValueError(f'{run.name} depends on unknown runs {unknown}')
    futures = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or futures:
            ready = [r for r in pending.values() if all(d in ctx.results for d in r.deps)]
            for run in ready[:max(jobs - len(futures), 0)]:
                futures[pool.submit(execute, run, ctx)] = run.name
                del pending[run.name]
            if not futures:
                raise RuntimeError(f'runs {sorted(pending)} wait on runs that did not finish')
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                name = futures.pop(future)
                ctx.results[name] = future.result()  # a failed run stops the tables


def prepare_grounding_data(data_root: str, threads: int) -> None:
    """The grounding specialist's inputs, derived from ShapesWorld when absent or older than the
    set: ODVG files and the tiny text encoder (the commands of its config's header)."""
    odvg = osp.join(data_root, 'odvg')
    os.makedirs(odvg, exist_ok=True)
    ann = osp.join(data_root, 'annotations')
    steps = [
        (osp.join(odvg, 'instances_train_od.jsonl'), [
            'tools/dataset_converters/to_odvg.py', 'od',
            osp.join(ann, 'instances_train.json'),
            osp.join(odvg, 'instances_train_od.jsonl'), '--label-map',
            osp.join(odvg, 'instances_label_map.json')
        ]),
        (osp.join(odvg, 'refexp_train_vg.jsonl'), [
            'tools/dataset_converters/to_odvg.py', 'vg',
            osp.join(ann, 'refexp_train.json'),
            osp.join(odvg, 'refexp_train_vg.jsonl')
        ]),
        (osp.join(data_root, 'text_encoder', 'config.json'), [
            'tools/misc/make_tiny_text_encoder.py',
            osp.join(data_root, 'text_encoder'), '--tokenizer',
            osp.join(data_root, 'tokenizer')
        ]),
    ]
    stamp = osp.join(data_root, 'generation.json')  # rewritten whenever the set is regenerated
    for product, args in steps:
        if not osp.exists(product) or (osp.exists(stamp)
                                       and osp.getmtime(product) < osp.getmtime(stamp)):
            _call(args, osp.join(odvg, osp.basename(product) + '.log'), threads)


def select(runs: Sequence[Run], patterns: Sequence[str]) -> List[Run]:
    """The runs matching ``patterns`` and, transitively, the runs they depend on."""
    by_name = {run.name: run for run in runs}
    wanted = [n for n in by_name if any(fnmatch.fnmatch(n, p) for p in patterns)]
    if not wanted:
        raise ValueError(f'--only {list(patterns)} matches no run; runs: {sorted(by_name)}')
    chosen, stack = set(), list(wanted)
    while stack:
        name = stack.pop()
        if name not in chosen:
            chosen.add(name)
            stack.extend(by_name[name].deps)
    return [run for run in runs if run.name in chosen]


# ---------------------------------------------------------------- the plan


def compose_init(ctx: Context, name: str, text_checkpoint: str, grounding: str, pose: str) -> str:
    """The generalist's start: the text stages' MLLM, the specialists' decoders, new query tables.

    The det decoder goes through ``gdino_to_link_decoder.py`` (checked against this run's
    decoder; every non-text tensor must land), the pose decoder is renamed from the specialist.
    """
    init_dir = osp.join(ctx.out_dir, name, 'init')
    os.makedirs(init_dir, exist_ok=True)
    config = osp.join(ctx.out_dir, name, 'train_config.py')
    det_init = osp.join(init_dir, 'det_from_grounding_dino.pth')
    _call([
        'tools/model_converters/gdino_to_link_decoder.py', grounding, det_init, '--config', config,
        '--in-channels', '256', '--model-prefix', 'decoders.det.'
    ], osp.join(init_dir, 'convert.log'), ctx.threads)
    out = osp.join(init_dir, 'generalist_init.pth')
    _call([
        'tools/model_converters/compose_checkpoint.py', text_checkpoint, out, '--part',
        f'decoders.det.={det_init}', '--part', f'decoder.:decoders.pose.={pose}', '--drop',
        'super_link.query_tables.', 'decoders.'
    ], osp.join(init_dir, 'compose.log'), ctx.threads)
    return out


def plan(seeds: Sequence[int], quick: bool, text_stages: Optional[str]) -> List[Run]:
    """Every run of the four parts."""
    schedule = SCHEDULES['quick' if quick else 'full']
    runs: List[Run] = []
    for name, (config, tests) in SPECIALISTS.items():
        iters = schedule['pretrain'][name]
        runs.append(
            Run(f'pretrain/{name}',
                config,
                tests=dict(tests),
                edit=lambda cfg, n=iters: set_schedule(cfg, n, max(n // 20, 1))))

    text_file = osp.join(text_stages or '', 'text_warmup', 'last_checkpoint')
    if text_stages and osp.isfile(text_file):
        with open(text_file) as f:
            reused_text_checkpoint = f.read().strip()
        text_deps: Tuple[str, ...] = ()
    elif quick:  # the smoke test: stage 1 alone for two iterations (a random frozen CLIP)
        reused_text_checkpoint = None
        runs.append(
            Run('text_stages/text_warmup', TEXT_STAGE, edit=lambda cfg: set_schedule(cfg, 2, 1)))
        text_deps = ('text_stages/text_warmup', )
    else:  # the demo's stages 0 and 1, as `make demo` runs them
        reused_text_checkpoint = None
        runs.append(Run('text_stages/vision_pretrain', VISION_STAGE))
        runs.append(
            Run('text_stages/text_warmup',
                TEXT_STAGE,
                deps=('text_stages/vision_pretrain', ),
                load=lambda ctx: ctx.checkpoint('text_stages/vision_pretrain')))
        text_deps = ('text_stages/text_warmup', )

    def text_checkpoint(ctx: Context) -> str:
        return reused_text_checkpoint or ctx.checkpoint('text_stages/text_warmup')

    steps = schedule['stage2']
    group_steps = {g: max(int(steps * r), 1) for g, r in GROUP_RATIOS.items()}
    init_deps = text_deps + ('pretrain/grounding', 'pretrain/pose')

    def generalist(seed: int,
                   variant: str,
                   tasks=None,
                   num_queries=4,
                   shared=False,
                   iters=steps) -> Run:
        name = f'seed{seed}/{variant}'

        def edit(cfg: Config) -> None:
            set_schedule(cfg, iters, schedule['warmup'])
            for group in ('det', 'pose'):
                cfg.model.decoders[group].num_queries = num_queries
            cfg.model.share_query_tables = shared

        def load(ctx: Context) -> str:
            return compose_init(ctx, name,
                                text_checkpoint(ctx), ctx.checkpoint('pretrain/grounding'),
                                ctx.checkpoint('pretrain/pose'))

        return Run(
            name,
            GENERALIST,
            seed,
            tests={'all': None},
            deps=init_deps,
            edit=edit,
            load=load,
            tasks=tasks)

    for seed in seeds:
        runs += [generalist(seed, f'generalist_n{n}', num_queries=n) for n in QUERY_COUNTS]
        runs.append(generalist(seed, 'generalist_shared_table', shared=True))
        runs.append(
            generalist(seed, 'alone_det', tasks=('det', 'seg', 'grd'), iters=group_steps['det']))
        runs.append(generalist(seed, 'alone_pose', tasks=('pose', ), iters=group_steps['pose']))
        for name, (config, tests) in SPECIALISTS.items():
            iters = group_steps[SPECIALIST_GROUP[name]]
            runs.append(
                Run(f'seed{seed}/specialist_{name}',
                    config,
                    seed,
                    tests=dict(tests),
                    deps=(f'pretrain/{name}', ),
                    edit=lambda cfg, n=iters: set_schedule(cfg, n, schedule['warmup'], STAGE2_LR),
                    load=lambda ctx, n=name: ctx.checkpoint(f'pretrain/{n}')))
    return runs


# ---------------------------------------------------------------- the tables


def metric(results: Dict[str, dict], run: str, test: str, key: str) -> float:
    """One metric of a finished run; a missing one is an error naming what the run has."""
    tests = results[run]['metrics']
    if test not in tests or key not in tests[test]:
        raise KeyError(f'{run}: no metric {test}/{key} (it has '
                       f'{ {t: sorted(m) for t, m in tests.items()} })')
    return float(tests[test][key])


def over_seeds(results, seeds, variant, test, key) -> List[float]:
    return [metric(results, f'seed{s}/{variant}', test, key) for s in seeds]


def mean_sd(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation (None for one value)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None


def fmt(values: Sequence[float]) -> str:
    mean, sd = mean_sd(values)
    return f'{mean:.3f}' if sd is None else f'{mean:.3f} ± {sd:.3f}'


def compare(ours_a: Sequence[float], ours_b: Sequence[float], paper_sign: int) -> str:
    """Does b - a go the paper's way (``paper_sign``: +1 up, -1 down, 0 no change), beyond the
    larger of the two spreads?"""
    (mean_a, sd_a), (mean_b, sd_b) = mean_sd(ours_a), mean_sd(ours_b)
    if sd_a is None or sd_b is None:
        return 'one seed: no spread to judge'
    diff, spread = mean_b - mean_a, max(sd_a, sd_b)
    if abs(diff) <= spread:
        return ('yes (no change beyond the spread)' if paper_sign == 0 else
                f'not resolved ({diff:+.3f} within the spread {spread:.3f})')
    sign = 1 if diff > 0 else -1
    if paper_sign == 0:
        return f'no ({diff:+.3f}, beyond the spread {spread:.3f})'
    return (f'yes ({diff:+.3f} > spread {spread:.3f})'
            if sign == paper_sign else f'no ({diff:+.3f}, beyond the spread {spread:.3f})')


def paper_sign(before: float, after: float, flat: float = 1.0) -> int:
    """+1 / -1 where the paper's figure moves by more than ``flat`` points, else 0."""
    return 0 if abs(after - before) <= flat else (1 if after > before else -1)


def build_tables(results: Dict[str, dict], seeds: Sequence[int]) -> str:
    """The four parts as Markdown."""
    lines = [
        f'Seeds {list(seeds)}: mean ± standard deviation over them. An effect counts where '
        'the difference of the means exceeds the larger spread.', ''
    ]
    lines += [
        '## 1. Specialists (pretrained once, seed 0)', '',
        '| specialist | metric | value | iterations | train time (s) |', '|---|---|---|---|---|'
    ]
    for label, _, spec, test, key in COMPARISON_ROWS:
        record = results[f'pretrain/{spec}']
        lines.append(f'| {spec} | {label} | {metric(results, f"pretrain/{spec}", test, key):.3f} | '
                     f'{record["max_iters"]} | {record["train_s"]:.0f} |')
    lines += [
        '', '## 2. Generalist with the paper\'s initialisation against the specialists', '',
        '| metric | paper: generalist / specialist | ours: generalist | ours: specialist '
        '(same further steps) | ratio | parity (generalist not below the specialist beyond '
        'the spread) |', '|---|---|---|---|---|---|'
    ]
    for label, gen_key, spec, test, key in COMPARISON_ROWS:
        gen = over_seeds(results, seeds, 'generalist_n4', 'all', gen_key)
        ref = over_seeds(results, seeds, f'specialist_{spec}', test, key)
        paper_gen, paper_spec = PAPER_COMPARISON[label]
        paper = f'{paper_gen} / {paper_spec} = {paper_gen / paper_spec:.2f}' if paper_spec else \
            f'{paper_gen} / not reported'
        ratio = statistics.mean(gen) / statistics.mean(ref) if statistics.mean(ref) else float(
            'nan')
        verdict = compare(ref, gen, 0) if len(seeds) > 1 else 'one seed'
        if verdict.startswith('no (+'):
            verdict = 'yes (above the specialist: ' + verdict[4:]
        lines.append(f'| {label} | {paper} | {fmt(gen)} | {fmt(ref)} | {ratio:.2f} | {verdict} |')
    lines += [
        '', '## 3. Link queries per target (N), det and pose groups', '',
        '| N | box AP (paper) | box AP (ours) | keypoint AP (paper) | keypoint AP (ours) |',
        '|---|---|---|---|---|'
    ]
    keys = {'box AP': 'det/bbox_mAP', 'keypoint AP': 'pose/AP'}
    ours = {
        label: {
            n: over_seeds(results, seeds, f'generalist_n{n}', 'all', key)
            for n in QUERY_COUNTS
        }
        for label, key in keys.items()
    }
    for i, n in enumerate(QUERY_COUNTS):
        lines.append(f'| {n} | {PAPER_QUERIES["box AP"][i]} | {fmt(ours["box AP"][n])} | '
                     f'{PAPER_QUERIES["keypoint AP"][i]} | {fmt(ours["keypoint AP"][n])} |')
    lines += ['', '| effect | paper | ours agrees? |', '|---|---|---|']
    for label in keys:
        paper = PAPER_QUERIES[label]
        for (i, a), (j, b) in [((0, 1), (1, 4)), ((1, 4), (2, 8))]:
            sign = paper_sign(paper[i], paper[j])
            lines.append(f'| {label}, N {a} → {b} | {paper[j] - paper[i]:+.1f} | '
                         f'{compare(ours[label][a], ours[label][b], sign)} |')
    lines += [
        '', '## 4. Multi-task conflict', '',
        '| metric | alone (its own steps only) | all tasks together | together, one shared '
        'query table | together vs alone (paper: no loss) | per-task vs shared tables '
        '(paper: per-task better) |', '|---|---|---|---|---|---|'
    ]
    for label, gen_key, _, _, _ in COMPARISON_ROWS:
        alone_run = 'alone_pose' if gen_key.startswith('pose/') else 'alone_det'
        alone = over_seeds(results, seeds, alone_run, 'all', gen_key)
        together = over_seeds(results, seeds, 'generalist_n4', 'all', gen_key)
        shared = over_seeds(results, seeds, 'generalist_shared_table', 'all', gen_key)
        no_loss = compare(alone, together, 0)
        if no_loss.startswith('no (+'):
            no_loss = 'yes (better together: ' + no_loss[4:]
        lines.append(f'| {label} | {fmt(alone)} | {fmt(together)} | {fmt(shared)} | {no_loss} | '
                     f'{compare(shared, together, 1)} |')
    return '\n'.join(lines) + '\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out-dir', default='work_dirs/paper_tables')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--jobs', type=int, default=2, help='runs at a time')
    parser.add_argument(
        '--text-stages',
        default='work_dirs/demo',
        help='work dir of `make demo` whose text_warmup/ checkpoint is reused (trained into '
        'OUT_DIR/text_stages when absent)')
    parser.add_argument('--quick', action='store_true', help='smoke-test schedules and tests')
    parser.add_argument(
        '--only',
        nargs='+',
        metavar='PATTERN',
        help='run only the runs whose names match (fnmatch, e.g. "pretrain/*") and what they '
        'need; the tables are written when every run is done')
    args = parser.parse_args()
    out_dir = osp.abspath(args.out_dir)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    ctx = Context(out_dir=out_dir, quick=args.quick, threads=threads)
    runs = plan(args.seeds, args.quick, None if args.quick else args.text_stages)
    start = time.perf_counter()
    prepare_grounding_data(os.environ.get('SHAPESWORLD_ROOT', 'data/shapesworld/'), threads)
    if args.only:
        run_all(select(runs, args.only), ctx, args.jobs)
        return
    run_all(runs, ctx, args.jobs)
    tables = build_tables(ctx.results, args.seeds)
    wall = time.perf_counter() - start
    header = (f'# VisionLLM v2 paper protocol at tiny scale\n\n`{" ".join(sys.argv)}`: '
              f'{len(runs)} runs, {wall / 60:.1f} min wall here (reused runs count 0).\n\n')
    out = osp.join(out_dir, 'paper_tables.md')
    with open(out, 'w') as f:
        f.write(header + tables)
    print(header + tables)
    print(f'written to {out}')


if __name__ == '__main__':
    main()
