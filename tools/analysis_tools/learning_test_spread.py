"""Run learning tests under several CPU kernel settings and print the spread of their figures.

A learning test trains and asserts a learned quality against a threshold; its result depends on
the rounding of the CPU's math kernels as well as on its seed, so a threshold needs a margin that
holds on other machines. This tool runs the given tests once per kernel setting, each in a fresh
process (``ATEN_CPU_CAPABILITY`` and the thread count are read at start-up), one process at a time,
and prints the figures each test reports through ``tests/data/learning_figures.py``, then the
min/max of each figure over the settings::

    python tools/analysis_tools/learning_test_spread.py \\
        tests/test_models/test_mllm/test_vision_pretraining.py::test_tower_learns_the_caption_tags_of_its_images
    python tools/analysis_tools/learning_test_spread.py TEST_ID --settings t1 t2 --max-load 3

Settings: ``t1`` (1 torch thread, oneDNN on, ATen's best vectorisation for this CPU), ``t2``
(2 threads, as ``make test`` runs), ``t1-no-mkldnn`` (``torch.backends.mkldnn.enabled = False``),
``t1-avx2`` (``ATEN_CPU_CAPABILITY=avx2``) and ``t1-no-vec`` (``ATEN_CPU_CAPABILITY=default``, no
vectorisation). oneDNN/MKL choose their own instruction set from the processor whatever
``ATEN_CPU_CAPABILITY`` says, so two machines can differ beyond these settings as well; read the
spread as a lower bound. Figures: docs/en/results.md, "How much the figures move between machines".
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PREFIX = 'learning-test figures: '  # tests/data/learning_figures.py prints it

# name: (torch threads, oneDNN enabled, ATEN_CPU_CAPABILITY or None for the CPU's best)
SETTINGS = {
    't1': (1, True, None),
    't2': (2, True, None),
    't1-no-mkldnn': (1, False, None),
    't1-avx2': (1, True, 'avx2'),
    't1-no-vec': (1, True, 'default'),
}

# pytest in a fresh interpreter with oneDNN switched first (conftest.py sets the threads)
BOOTSTRAP = ('import sys, torch; torch.backends.mkldnn.enabled = sys.argv.pop(1) == "1"; '
             'import pytest; sys.exit(pytest.main(sys.argv[1:]))')


def wait_for_load(max_load: float) -> None:
    """Sleep while the 1-minute load average is above ``max_load`` (a shared machine)."""
    while os.getloadavg()[0] > max_load:
        print(f'load {os.getloadavg()[0]:.1f} > {max_load}: waiting 60 s', file=sys.stderr)
        time.sleep(60)


def run_setting(tests: List[str], name: str) -> Dict[str, dict]:
    """Run ``tests`` under one setting; return {test id: reported record} (with the outcome)."""
    threads, mkldnn, capability = SETTINGS[name]
    env = dict(os.environ, TEST_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    env.pop('ATEN_CPU_CAPABILITY', None)
    if capability is not None:
        env['ATEN_CPU_CAPABILITY'] = capability
    command = [
        sys.executable, '-c', BOOTSTRAP, '1' if mkldnn else '0', '-q', '-s', '-p',
        'no:cacheprovider', *tests
    ]
    start = time.time()
    proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    records = {}
    for line in proc.stdout.splitlines():
        if PREFIX in line:
            record = json.loads(line.split(PREFIX, 1)[1])
            records[record['test']] = record
    failed = {line.split(' ')[1] for line in proc.stdout.splitlines() if line.startswith('FAILED ')}
    for test, record in records.items():
        record['passed'] = test not in failed
        record['seconds'] = round(time.time() - start)
    if len(records) < len(tests):  # a test failed before reporting, or timed out: show why
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('tests', nargs='+', help='pytest ids of learning tests')
    parser.add_argument(
        '--settings', nargs='+', default=list(SETTINGS), choices=list(SETTINGS), help='settings')
    parser.add_argument('--max-load', type=float, help='wait while the load average is above it')
    args = parser.parse_args()
    table: Dict[str, Dict[str, dict]] = {}
    for name in args.settings:
        if args.max_load is not None:
            wait_for_load(args.max_load)
        for test, record in run_setting(args.tests, name).items():
            table.setdefault(test, {})[name] = record
            print(json.dumps(dict(record, setting_name=name)), flush=True)
    for test, rows in table.items():
        print(f'\n{test}')
        keys = list(next(iter(rows.values()))['figures'])
        print('| setting | ' + ' | '.join(keys) + ' | passed |')
        for name, record in rows.items():
            values = ' | '.join(f"{record['figures'].get(k, float('nan')):.4g}" for k in keys)
            print(f"| {name} | {values} | {record['passed']} |")
        for key in keys:
            values = [r['figures'][key] for r in rows.values() if key in r['figures']]
            print(f'{key}: min {min(values):.4g} max {max(values):.4g} over {len(values)} settings')


if __name__ == '__main__':
    main()
