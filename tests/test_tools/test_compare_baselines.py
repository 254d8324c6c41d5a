"""compare_baselines.py builds the ratio table from the test_metrics.json files."""
import json
import os.path as osp
import subprocess
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def write_metrics(work_dir, metrics):
    work_dir.mkdir()
    (work_dir / 'test_metrics.json').write_text(json.dumps(metrics))
    return str(work_dir)


def test_table_with_ratios(tmp_path):
    gen = write_metrics(tmp_path / 'gen', {
        'det/bbox_mAP': 0.6,
        'pose/AP': 0.3,
        'grd/refcoco_precision@1': 0.9
    })
    det = write_metrics(tmp_path / 'det', {'coco/bbox_mAP': 0.5})
    pose = write_metrics(tmp_path / 'pose', {'coco/AP': 0.6})
    out = tmp_path / 'table.md'
    proc = subprocess.run([
        sys.executable, 'tools/analysis_tools/compare_baselines.py', '--generalist', gen,
        '--specialist', f'det={det}', '--specialist', f'pose={pose}', '--out',
        str(out)
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    table = out.read_text()
    assert '| box AP | 0.600 | 0.500 | 1.20 |' in table
    assert '| keypoint AP | 0.300 | 0.600 | 0.50 |' in table
    assert '| REC P@0.5 | 0.900 | — | — |' in table
    assert 'mask AP' not in table  # neither side has it


def test_missing_work_dir_is_named(tmp_path):
    proc = subprocess.run([
        sys.executable, 'tools/analysis_tools/compare_baselines.py', '--generalist',
        str(tmp_path / 'nowhere')
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert 'nowhere/test_metrics.json not found' in proc.stderr


def test_mistyped_rows_and_specialists_are_errors(tmp_path):
    gen = write_metrics(tmp_path / 'gen', {'det/bbox_mAP': 0.6})
    det = write_metrics(tmp_path / 'det', {'coco/bbox_mAP': 0.5})

    def run(*args):
        return subprocess.run([
            sys.executable, 'tools/analysis_tools/compare_baselines.py', '--generalist', gen, *args
        ],
                              cwd=REPO_ROOT,
                              capture_output=True,
                              text=True,
                              timeout=120)

    proc = run('--specialist', f'dett={det}')
    assert proc.returncode != 0 and "specialist(s) ['dett']" in proc.stderr
    proc = run('--specialist', f'det={det}', '--row', 'box AP|det/bbox_mAP|det|coco/bbox_AP')
    assert proc.returncode != 0 and "'det' has no metric 'coco/bbox_AP'" in proc.stderr
    proc = run('--specialist', f'det={det}', '--row', 'box AP|det/box_mAP|det|coco/bbox_mAP')
    assert proc.returncode != 0 and "generalist has no metric 'det/box_mAP'" in proc.stderr
    proc = run('--specialist', f'det={det}', '--row', 'box AP|det/bbox_mAP|det|coco/bbox_mAP')
    assert proc.returncode == 0 and '| box AP | 0.600 | 0.500 | 1.20 |' in proc.stdout
