"""paper_tables.py: the verdict rules on known numbers; `--quick` end to end with the real tools.

The smoke run trains every run of the four parts (specialists, text stages, the generalist under
the paper's initialisation, N = 1 / 4 / 8, alone / together / shared table, the specialists'
further steps) for a few iterations on a small ShapesWorld and checks the tables and the reuse of
finished runs.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from tool_loader import REPO_ROOT, load_tool

tables = load_tool('analysis_tools/paper_tables.py')


def test_effects_count_only_beyond_the_spread():
    # up by 0.10 with spreads of 0.01: the paper's direction (+) agrees, the opposite one does not
    assert tables.compare([0.1, 0.11, 0.12], [0.2, 0.21, 0.22], 1).startswith('yes (+0.100')
    assert tables.compare([0.1, 0.11, 0.12], [0.2, 0.21, 0.22], -1).startswith('no (+0.100')
    # a difference inside the spread resolves nothing, unless the paper says "no change"
    assert tables.compare([0.1, 0.2, 0.3], [0.15, 0.25, 0.35], 1).startswith('not resolved')
    assert tables.compare([0.1, 0.2, 0.3], [0.15, 0.25, 0.35], 0).startswith('yes (no change')
    assert tables.compare([0.1], [0.2], 1) == 'one seed: no spread to judge'
    assert tables.paper_sign(50.4, 52.0) == 1 and tables.paper_sign(52.0, 52.1) == 0
    assert tables.mean_sd([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))
    assert tables.fmt([1.0, 3.0]) == '2.000 ± 1.414'


def _fake_results(seeds, value):
    """Every run of the plan with each metric at ``value(run, key)``."""
    results = {}
    keys = {'all': [r[1] for r in tables.COMPARISON_ROWS]}
    for _, _, spec, test, key in tables.COMPARISON_ROWS:
        keys.setdefault(test, []).append(key)
    for run in tables.plan(seeds, quick=True, text_stages=None):
        tests = ['all'] if run.config == tables.GENERALIST else list(run.tests)
        results[run.name] = dict(
            max_iters=2,
            train_s=1.0,
            metrics={t: {
                k: value(run.name, k)
                for k in keys[t]
            }
                     for t in tests})
    return results


def test_tables_put_each_figure_beside_the_papers():
    seeds = [0, 1, 2]

    def value(run, key):
        seed = int(run[4]) if run.startswith('seed') else 0
        if 'generalist_n1' in run:
            return 0.2 + 0.01 * seed
        if 'specialist_' in run:
            return 0.5 + 0.01 * seed
        return 0.4 + 0.01 * seed

    text = tables.build_tables(_fake_results(seeds, value), seeds)
    for part in ('## 1. Specialists', '## 2. Generalist', '## 3. Link queries', '## 4. Multi-task'):
        assert part in text
    row = '| box AP | 56.7 / 57.2 = 0.99 | 0.410 ± 0.010 | 0.510 ± 0.010 | 0.80 | no (-0.100'
    assert row in text
    # N 1 -> 4 rises by 0.2 with spreads of 0.01, as the paper's; 4 -> 8 flat, as the paper's
    assert '| box AP, N 1 → 4 | +1.6 | yes (+0.200 > spread 0.010) |' in text
    assert '| keypoint AP, N 4 → 8 | +0.6 | yes (no change beyond the spread) |' in text


def test_restrict_tasks_keeps_one_groups_data_and_metrics():
    cfg = Config.fromfile(osp.join(REPO_ROOT, tables.GENERALIST))
    tables.restrict_tasks(cfg, ('pose', ))
    assert [d['task'] for d in cfg.train_dataloader.dataset.datasets] == ['pose']
    assert cfg.train_dataloader.batch_sampler.group_ratios == {'pose': 0.4}
    assert [m['tasks'] for m in cfg.test_evaluator] == ['pose']
    assert dict(cfg.test_dataloader.dataset.max_samples) == {'pose': 60}


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp('paper_tables')
    subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'misc',
                 'generate_shapesworld.py'), '--out-dir', 'data/shapesworld', '--num-train', '24',
        '--num-val', '12', '--img-size', '128', '--no-progress'
    ],
                   cwd=root,
                   check=True,
                   capture_output=True)
    return root


def _paper_tables(workspace, *args):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    done = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'paper_tables.py'), '--quick', '--seeds',
        '0', '--jobs', '2', '--out-dir', 'work_dirs/paper_tables', *args
    ],
                          cwd=workspace,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=1200)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def test_quick_run_writes_all_four_parts_and_reuses_finished_runs(workspace):
    stdout = _paper_tables(workspace)
    out_dir = workspace / 'work_dirs' / 'paper_tables'
    text = (out_dir / 'paper_tables.md').read_text()
    for part in ('## 1. Specialists', '## 2. Generalist', '## 3. Link queries', '## 4. Multi-task'):
        assert part in text
    runs = tables.plan([0], quick=True, text_stages=None)
    assert stdout.count('[paper_tables] train ') == len(runs)
    # the generalist started from the specialists: the converter and the composition ran
    init_log = (out_dir / 'seed0' / 'generalist_n4' / 'init' / 'compose.log').read_text()
    assert 'decoders.det. -> decoders.det.' in init_log and 'decoder. -> decoders.pose.' in init_log
    shared = Config.fromfile(str(out_dir / 'seed0' / 'generalist_shared_table' / 'train_config.py'))
    assert shared.model.share_query_tables is True
    n1 = Config.fromfile(str(out_dir / 'seed0' / 'generalist_n1' / 'train_config.py'))
    assert n1.model.decoders.det.num_queries == 1 and n1.model.decoders.pose.num_queries == 1

    again = _paper_tables(workspace)
    assert '[paper_tables] train ' not in again
    assert again.count('[paper_tables] reuse ') == len(runs)
    assert (out_dir / 'paper_tables.md').read_text().split('\n', 3)[3] == text.split('\n', 3)[3]
