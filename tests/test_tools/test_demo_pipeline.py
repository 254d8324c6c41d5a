"""The `make demo` chain at smoke size: vision pre-training -> text warm-up -> train -> test ->
report, and the benchmark script.

The embedded demo configs run unchanged except for their length (2 iterations, 2 val samples per
task) on a small ShapesWorld generated into a temporary working directory, so every metric of the
demo table, the prediction grid and the chat transcript are produced by the real tools.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'visionllmv2', 'visionllmv2_tiny_shapesworld.py')
WARMUP_CONFIG = osp.join(REPO, 'configs', 'visionllmv2',
                         'visionllmv2_tiny_shapesworld_text_warmup.py')
VISION_CONFIG = osp.join(REPO, 'configs', 'visionllmv2',
                         'visionllmv2_tiny_shapesworld_vision_pretrain.py')
# stage 0 at smoke size, on the tags the small set's captions use (it lacks e.g. 'three')
VISION_SMOKE_OPTIONS = [
    '--cfg-options', 'train_cfg.max_iters=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'train_dataloader.batch_size=4',
    'train_dataloader.dataset.tags=[red,green,blue,yellow,purple,small,large]', 'model.num_tags=7'
]
SMOKE_OPTIONS = [
    '--cfg-options', 'train_cfg.max_iters=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False', 'test_dataloader.dataset.max_samples.det=2',
    'test_dataloader.dataset.max_samples.seg=2', 'test_dataloader.dataset.max_samples.grd=2',
    'test_dataloader.dataset.max_samples.pose=2', 'test_dataloader.dataset.max_samples.vqa=2',
    'test_dataloader.dataset.max_samples.caption=2', 'test_dataloader.dataset.max_samples.gen=2',
    'test_dataloader.dataset.max_samples.edit=2'
]


def _run(args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run(
        [sys.executable] + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])
    return out.stdout


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """A working directory with its own small data/shapesworld (the config's relative paths)."""
    root = tmp_path_factory.mktemp('demo')
    _run([
        osp.join(REPO, 'tools', 'misc', 'generate_shapesworld.py'), '--out-dir', 'data/shapesworld',
        '--num-train', '24', '--num-val', '12', '--img-size', '128', '--no-progress'
    ],
         cwd=root)
    return root


def test_demo_chain_writes_metrics_grid_and_transcript(workspace):
    work_dir = str(workspace / 'work_dirs' / 'demo')
    vision_dir = osp.join(work_dir, 'vision_pretrain')
    _run(
        [osp.join(REPO, 'tools', 'train.py'), VISION_CONFIG, '--work-dir', vision_dir] +
        VISION_SMOKE_OPTIONS,
        cwd=workspace)
    with open(osp.join(vision_dir, 'last_checkpoint')) as f:
        vision_checkpoint = f.read().strip()
    warmup_dir = osp.join(work_dir, 'text_warmup')
    stdout = _run(
        [osp.join(REPO, 'tools', 'train.py'), WARMUP_CONFIG, '--work-dir', warmup_dir] +
        SMOKE_OPTIONS + [f'load_from={vision_checkpoint}'],
        cwd=workspace)
    assert f'Load checkpoint from {vision_checkpoint}' in stdout  # stage 1 starts from stage 0
    with open(osp.join(warmup_dir, 'last_checkpoint')) as f:
        warmup_checkpoint = f.read().strip()
    stdout = _run(
        [osp.join(REPO, 'tools', 'train.py'), CONFIG, '--work-dir', work_dir] + SMOKE_OPTIONS +
        [f'load_from={warmup_checkpoint}'],
        cwd=workspace)
    assert f'Load checkpoint from {warmup_checkpoint}' in stdout  # stage 2 starts from stage 1
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    _run(
        [osp.join(REPO, 'tools', 'test.py'), CONFIG, checkpoint, '--work-dir', work_dir] +
        SMOKE_OPTIONS,
        cwd=workspace)
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        metrics = json.load(f)
    for key in ('det/bbox_mAP', 'seg/segm_mAP', 'grd/refcoco_precision@1', 'pose/AP',
                'vqa/accuracy', 'caption/cider', 'caption/cider_shuffled', 'gen/pixel_fd',
                'edit/psnr', 'edit/source_psnr'):
        assert key in metrics, key
    stdout = _run([
        osp.join(REPO, 'tools', 'analysis_tools', 'demo_report.py'), CONFIG, checkpoint,
        '--work-dir', work_dir, '--num-per-task', '1', '--num-chat', '1'
    ],
                  cwd=workspace)
    assert '| VQA accuracy |' in stdout and '| chat routing accuracy |' in stdout
    with open(osp.join(work_dir, 'demo_metrics.json')) as f:
        report = json.load(f)
    assert 0.0 < report['chance/vqa_answer_prior'] < 1.0
    for key in ('cider', 'bleu4'):  # the better of the best constant caption and shuffled images
        assert report[f'chance/caption_{key}'] == max(report[f'chance/caption_constant_{key}'],
                                                      report[f'caption/{key}_shuffled'])
    assert 0.0 <= report['chat/routing_accuracy'] <= 1.0
    for name in ('prediction_grid.png', 'chat_transcript.md', 'demo_metrics.md'):
        assert osp.getsize(osp.join(work_dir, name)) > 0, name
    for task in ('det', 'seg', 'grd', 'pose', 'vqa', 'caption', 'gen', 'edit'):
        assert osp.isfile(osp.join(work_dir, 'predictions', f'{task}.png')), task


def test_benchmark_script_splits_the_step_time(workspace):
    out = str(workspace / 'bench.json')
    stdout = _run([
        osp.join(REPO, 'tools', 'analysis_tools',
                 'benchmark.py'), CONFIG, '--steps', '1', '--warmup', '0', '--batch-size', '2',
        '--groups', 'text', 'det', '--tasks', 'vqa', 'det', '--out', out
    ],
                  cwd=workspace)
    assert 'train step per decoder group' in stdout
    with open(out) as f:
        result = json.load(f)
    for phase, names in (('train', ('text', 'det')), ('test', ('vqa', 'det'))):
        assert set(result[phase]) == set(names)
        for row in result[phase].values():
            parts = sum(row[p] for p in ('preprocess', 'vision', 'llm', 'link', 'decoder', 'rest'))
            assert row['total'] > 0 and abs(parts - row['total']) < 1e-3 + 0.05 * row['total']
            assert row['llm'] > 0 and row['peak_mem_mib'] > 0
    assert result['train']['det']['decoder'] > 0 and result['train']['text']['decoder'] == 0


def test_benchmark_script_refuses_unknown_groups(workspace):
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'analysis_tools', 'benchmark.py'), CONFIG, '--steps', '1',
        '--no-test', '--groups', 'text', 'dett'
    ],
                         cwd=workspace,
                         env=env,
                         capture_output=True,
                         text=True,
                         timeout=900)
    assert out.returncode != 0
    assert "unknown groups ['dett']" in out.stderr and "'det'" in out.stderr
