"""check_requirements.py: which requirement lines are met, nested files, constraints, bad lines."""
import os.path as osp
import subprocess
import sys
from importlib import metadata

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MISSING = 'surely-not-installed-package-mmvl'


def run(*files):
    return subprocess.run([sys.executable, 'tools/misc/check_requirements.py', *map(str, files)],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=60)


def test_met_unmet_markers_and_nested_files(tmp_path):
    pytest_version = metadata.version('pytest')
    (tmp_path / 'nested.txt').write_text(f'{MISSING}>=1.0\n')
    (tmp_path / 'pins.txt').write_text(f'{MISSING}==9.9\npytest<1\n')
    main = tmp_path / 'main.txt'
    main.write_text('\n'.join([
        '--find-links /nowhere  # a pip option, not a requirement',
        f'pytest=={pytest_version}',
        f'{MISSING}; python_version < "3"  # for another Python: not asked for',
        '-rnested.txt',
        '--constraint=pins.txt',
    ]) + '\n')
    proc = run(main)
    assert proc.returncode == 1, proc.stderr
    unmet = [line for line in proc.stdout.splitlines() if line.startswith('unmet requirement:')]
    # the nested file's requirement, and the constraint on an installed package; the constraint
    # on a package that is not installed asks for nothing
    assert len(unmet) == 2, proc.stdout
    assert f'nested.txt: {MISSING}>=1.0 (not installed)' in unmet[0]
    assert f'pins.txt: pytest<1 (installed {pytest_version})' in unmet[1]

    (tmp_path / 'ok.txt').write_text(f'pytest>={pytest_version}\n-c pins_ok.txt\n')
    (tmp_path / 'pins_ok.txt').write_text(f'{MISSING}==9.9\n')
    proc = run(tmp_path / 'ok.txt')
    assert proc.returncode == 0 and not proc.stdout, proc.stdout + proc.stderr


def test_bad_lines_and_no_files_are_errors(tmp_path):
    bad = tmp_path / 'bad.txt'
    bad.write_text('pytest\nnot a requirement ===\n')
    proc = run(bad)
    assert proc.returncode != 0
    assert 'bad.txt:2' in proc.stderr and 'is not a requirement' in proc.stderr
    editable = tmp_path / 'editable.txt'
    editable.write_text('-e .\n')
    proc = run(editable)
    assert proc.returncode != 0 and 'editable.txt:1' in proc.stderr
    (tmp_path / 'typo.txt').write_text('--requirements nested.txt\n')
    proc = run(tmp_path / 'typo.txt')
    assert proc.returncode != 0 and 'typo.txt:1' in proc.stderr
    (tmp_path / 'a.txt').write_text('-r b.txt\n')
    (tmp_path / 'b.txt').write_text('pytest\n-r a.txt\n')
    proc = run(tmp_path / 'a.txt')
    assert proc.returncode != 0 and 'b.txt:2' in proc.stderr and 'includes itself' in proc.stderr
    (tmp_path / 'gone.txt').write_text('-r nowhere.txt\n')
    proc = run(tmp_path / 'gone.txt')
    assert proc.returncode != 0 and 'gone.txt:1' in proc.stderr and 'not found' in proc.stderr
    proc = run()
    assert proc.returncode == 2 and 'required' in proc.stderr
