"""The report of `make demo`: metrics table, prediction grid per task, free-running chat transcript.

    python tools/analysis_tools/demo_report.py CONFIG CHECKPOINT --work-dir work_dirs/demo

Reads ``<work_dir>/test_metrics.json`` (written by tools/test.py) and writes into the work dir:

* ``demo_metrics.md``: the table of every task's metric beside its chance level (also printed), and
  ``demo_metrics.json``: the metrics, the chance levels and ``chat/routing_accuracy``;
* ``predictions/<task>.png`` and ``prediction_grid.png``: the first val samples of each task with
  the predictions drawn by :class:`VisionLLMVisualizer` (mmdet's ``DetLocalVisualizer`` for
  boxes/masks, mmpose's ``PoseLocalVisualizer`` for keypoints with their skeleton, generated /
  edited images beside their targets, the conversation under the images);
* ``chat_transcript.md`` (+ ``chat/*.png``): free-running chat on val samples — the model writes the
  whole answer and chooses its decoder itself; each reply is checked against the task's expected
  routing token.
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Set, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmvisionllm.apis import VisionLLMInferencer, chat
from mmvisionllm.evaluation.chance_levels import (best_constant_caption_scores,
                                                  rec_random_object_precision, vqa_prior_scores)
from mmvisionllm.registry import DATASETS
from mmvisionllm.utils import register_all_modules
from mmvisionllm.visualization import VisionLLMVisualizer, to_rgb_array

METRIC_ROWS = [  # label, metric key, chance key (see chance_levels()), higher is better
    ('box AP (det)', 'det/bbox_mAP', 'zero', True),
    ('mask AP (seg)', 'seg/segm_mAP', 'zero', True),
    ('REC P@0.5 (grd)', 'grd/refcoco_precision@1', 'chance/rec_random_object', True),
    ('keypoint AP (pose)', 'pose/AP', 'zero', True),
    ('VQA accuracy', 'vqa/accuracy', 'chance/vqa_answer_prior', True),
    ('caption CIDEr', 'caption/cider', 'chance/caption_cider', True),
    ('caption BLEU-4', 'caption/bleu4', 'chance/caption_bleu4', True),
    ('generation GenEval acc.', 'geneval/accuracy', 'geneval/accuracy_mismatched_images', True),
    ('generation pixel FD', 'gen/pixel_fd', 'gen/pixel_fd_mean_image', False),
    ('edit success', 'edit/success', 'edit/source_success', True),
    ('edit PSNR (dB)', 'edit/psnr', 'edit/source_psnr', True),
    ('edit L1', 'edit/l1', 'edit/source_l1', False),
]
# where the headline figures come from (printed as a second table)
DIAGNOSTIC_ROWS = [
    ('VQA yes/no questions', 'vqa/accuracy_yes/no', 'chance/vqa_answer_prior_yes/no', True),
    ('VQA counting questions', 'vqa/accuracy_number', 'chance/vqa_answer_prior_number', True),
    ('VQA colour/shape questions', 'vqa/accuracy_other', 'chance/vqa_answer_prior_other', True),
    ('caption CIDEr of the best image-blind caption', 'chance/caption_constant_cider', None, True),
    ('caption CIDEr of its captions on other images', 'caption/cider_shuffled', None, True),
    ('generation GenEval acc., real images', 'geneval/accuracy_real_images', None, True),
]
CHANCE_NOTES = {
    'zero':
    '0 (AP of boxes/keypoints that ignore the image)',
    'chance/rec_random_object':
    'a random object of the image',
    'chance/vqa_answer_prior': ('the better of the most frequent train answer of the question and '
                                'of its question type (no image)'),
    'chance/vqa_answer_prior_yes/no':
    'the same, on the yes/no questions',
    'chance/vqa_answer_prior_number':
    'the same, on the counting questions',
    'chance/vqa_answer_prior_other':
    'the same, on the colour / shape questions',
    'chance/caption_cider': ('the better of: the best image-blind caption (chosen on train) for '
                             'every image; its own captions scored on other images'),
    'chance/caption_bleu4':
    'the same',
    'geneval/accuracy_mismatched_images':
    "real image of another prompt (real image of its own "
    "prompt: see geneval/accuracy_real_images)",
    'gen/pixel_fd_mean_image':
    'the mean target image for every prompt',
    'edit/source_success':
    'the unedited source image',
    'edit/source_psnr':
    'the unedited source image',
    'edit/source_l1':
    'the unedited source image',
    None:
    'no chance level',
}
EXPECTED_TOKEN = dict(
    det='[DET]',
    seg='[SEG]',
    grd='[GRD]',
    pose='[POSE]',
    gen='[GEN]',
    edit='[EDIT]',
    vqa=None,
    caption=None,
    region=None)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write the demo report')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--num-per-task', type=int, default=4)
    parser.add_argument('--num-chat', type=int, default=1, help='chat examples per task')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument(
        '--ann-dir',
        default=None,
        help='ShapesWorld annotations for the chance levels (default: '
        '<data_root of the config>/annotations)')
    return parser.parse_args()


# the id each chance function filters by, per task (see mmvisionllm.evaluation.chance_levels)
CHANCE_ID_KEYS = dict(vqa='question_id', caption='img_id', grd='img_id')


def evaluated_ids(dataset) -> Dict[str, Set[int]]:
    """Ids of the test samples of the tasks with a chance level (what a model is scored on)."""
    ids: Dict[str, Set[int]] = {}
    for part in getattr(dataset, 'datasets', [dataset]):
        key = CHANCE_ID_KEYS.get(getattr(part, 'task', None))
        if key is not None:
            ids.setdefault(part.task,
                           set()).update(part.get_data_info(i)[key] for i in range(len(part)))
    return ids


def chance_levels(ann_dir: str, ids: Optional[Dict[str, Set[int]]] = None) -> Dict[str, float]:
    """Scores of image-blind answers on the val annotations (see mmvisionllm.evaluation).

    Args:
        ann_dir (str): ShapesWorld annotation directory.
        ids (dict, optional): Task -> ids of the evaluated samples (:func:`evaluated_ids`); a task
            not in it is scored on the whole val split.
    """
    ids = ids or {}

    def path(name: str) -> str:
        return osp.join(ann_dir, name)

    # the better of the two text-only priors, for the whole set and for each answer type
    vqa_priors = [
        vqa_prior_scores(
            path('vqa_train_questions.json'),
            path('vqa_train_annotations.json'),
            path('vqa_val_questions.json'),
            path('vqa_val_annotations.json'),
            question_ids=ids.get('vqa'),
            by=by) for by in ('question', 'question_type')
    ]
    vqa = {key: max(prior[key] for prior in vqa_priors) for key in vqa_priors[0]}
    caption = best_constant_caption_scores(
        path('captions_train.json'), path('captions_val.json'), image_ids=ids.get('caption'))
    return {
        'zero':
        0.0,
        'chance/rec_random_object':
        rec_random_object_precision(
            path('refexp_val.json'), path('instances_val.json'), expression_ids=ids.get('grd')),
        **{
            f'chance/vqa_answer_prior{key[len("accuracy"):]}': value
            for key, value in vqa.items()
        },
        'chance/caption_constant_cider':
        caption['cider'],
        'chance/caption_constant_bleu4':
        caption['bleu4'],
    }


def caption_chance_levels(metrics: Dict[str, float]) -> Dict[str, float]:
    """Chance of the caption figures: the better of the best image-blind caption
    (``chance/caption_constant_*``) and the model's own captions scored against other images'
    references (``caption/*_shuffled``, when the metric reports them): a captioner that ignores
    the image scores the same both ways."""
    levels = {}
    for key in ('cider', 'bleu4'):
        candidates = [
            metrics[k] for k in (f'chance/caption_constant_{key}', f'caption/{key}_shuffled')
            if k in metrics
        ]
        if candidates:
            levels[f'chance/caption_{key}'] = max(candidates)
    return levels


def metrics_table(
    metrics: Dict[str, float],
    rows: Sequence[Tuple[str, str, Optional[str], bool]] = tuple(METRIC_ROWS)
) -> str:
    """Markdown table of the demo metrics in ``metrics`` beside their chance levels; a figure is
    better than chance only if it is at the table's precision (3 decimals)."""
    lines = [
        '| task metric | value | chance level | better than chance | chance is |',
        '|---|---|---|---|---|'
    ]
    for label, key, chance_key, higher_is_better in rows:
        if key not in metrics:
            continue
        chance = None if chance_key is None else metrics.get(chance_key)
        chance_text = '—' if chance is None else f'{chance:.3f}'
        if chance is None:
            above = '—'
        else:
            # compared as printed: a keypoint AP of 0.0001 shows as 0.000 and is not above 0
            value, level = round(metrics[key], 3), round(chance, 3)
            better = value > level if higher_is_better else value < level
            above = 'yes' if better else 'NO'
        note = CHANCE_NOTES.get(chance_key, '') + ('' if higher_is_better else ' (lower is better)')
        lines.append(f'| {label} | {metrics[key]:.3f} | {chance_text} | {above} | {note} |')
    return '\n'.join(lines) + '\n'


def select_instances(sample, score_thr: float, top1: bool = False):
    """The predictions a grid panel shows (a copy of ``sample``).

    Grounding shows the top-1 box; detection the boxes scoring at least ``score_thr``, or, when
    none does (an early checkpoint), the best ``k`` with k = the number of ground-truth objects,
    so the picture shows what the model ranks highest (the scores are drawn with the boxes).
    """
    shown = sample.clone()
    pred = sample.get('pred_instances')
    if pred is None or 'scores' not in pred or len(pred) == 0:
        return shown
    scores = torch.as_tensor(np.asarray(pred.scores))
    if top1:
        keep = scores.argmax().reshape(1)
    elif bool((scores >= score_thr).any()):
        keep = torch.nonzero(scores >= score_thr).flatten()
    else:
        num_gt = len(sample.gt_instances) if 'gt_instances' in sample else 1
        keep = scores.argsort(descending=True)[:max(num_gt, 1)]
    shown.pred_instances = pred[keep]
    return shown


def question_of(sample) -> str:
    turns = sample.metainfo.get('conversation', [])
    return turns[0]['value'].replace('<image>', '').strip() if turns else ''


def answer_of(sample) -> str:
    turns = [t for t in sample.metainfo.get('conversation', []) if t['from'] == 'gpt']
    return turns[-1]['value'] if turns else ''


def task_indices(dataset, num: int) -> Dict[str, List[int]]:
    """The first ``num`` global indices of each task of a MultiTaskDataset (or a single dataset)."""
    if not hasattr(dataset, 'datasets'):
        return {dataset.task: list(range(min(num, len(dataset))))}
    indices, start = {}, 0
    for sub, end in zip(dataset.datasets, dataset.cumulative_sizes):
        indices.setdefault(sub.task, list(range(start, min(start + num, end))))
        start = end
    return indices


def draw_sample(task: str, data: dict, result, visualizer: VisionLLMVisualizer,
                score_thr: float) -> np.ndarray:
    """One grid panel, drawn by the project's visualizer (mmdet boxes / masks, mmpose keypoints,
    generated / edited images beside their targets, the conversation under them)."""
    image = to_rgb_array(data['inputs'].get('image'))
    if image is not None and tuple(result.metainfo.get('scale_factor', (1., 1.))) != (1., 1.):
        h, w = result.metainfo['ori_shape'][:2]
        image = cv2.resize(image, (w, h))
    shown = select_instances(result, score_thr, top1=task == 'grd')
    instance_task = 'pred_instances' in result
    notes = [f'drawn: score >= {score_thr}, else the top-k (k = number of objects)'] \
        if instance_task and task != 'grd' else ['drawn: the top-1 box'] if instance_task else []
    # ground truth: the answer of text tasks and the target image of gen / edit
    return visualizer.draw_sample(
        image, shown, draw_gt=not instance_task, pred_score_thr=0.0, notes=notes)


def _row(panels: Sequence[np.ndarray], label: str) -> np.ndarray:
    height = max(p.shape[0] for p in panels)
    padded = [
        np.pad(p, ((0, height - p.shape[0]), (0, 4), (0, 0)), constant_values=255) for p in panels
    ]
    row = np.concatenate(padded, axis=1)
    tag = np.full((row.shape[0], 60, 3), 255, np.uint8)
    cv2.putText(tag, label, (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    return np.concatenate([tag, row], axis=1)


def write_prediction_grid(model, dataset, work_dir: str, num: int, score_thr: float) -> List[str]:
    out_dir = osp.join(work_dir, 'predictions')
    os.makedirs(out_dir, exist_ok=True)
    visualizer = VisionLLMVisualizer(
        name='demo_report', line_width=1, alpha=0.5, min_side=256, font_size=10, max_text_lines=6)
    visualizer.dataset_meta = dataset.metainfo  # the pose task's keypoint colours and skeleton
    rows, written = [], []
    for task, indices in task_indices(dataset, num).items():
        samples = [dataset[idx] for idx in indices]
        with torch.no_grad():
            results = model.test_step(pseudo_collate(samples))
        row = _row([
            draw_sample(task, data, result, visualizer, score_thr)
            for data, result in zip(samples, results)
        ], task)
        path = osp.join(out_dir, f'{task}.png')
        cv2.imwrite(path, cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
        written.append(path)
        rows.append(row)
    width = max(r.shape[1] for r in rows)
    grid = np.concatenate(
        [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    path = osp.join(work_dir, 'prediction_grid.png')
    cv2.imwrite(path, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return written + [path]


def summarise_link(link) -> str:
    if link.error:
        return f'not decoded ({link.error})'
    pred = link.prediction
    if hasattr(pred, 'pred_image'):
        return 'an image'
    instances = getattr(pred, 'pred_instances', pred)
    if instances is None or not hasattr(instances, 'scores'):
        return 'no output'
    if len(instances) == 0:
        return 'no instance'
    top = instances[instances.scores.argmax().reshape(1)]
    box = ', '.join(f'{v:.0f}' for v in top.bboxes[0].tolist()) if 'bboxes' in top else ''
    return f'{len(instances)} instances, best score {float(top.scores[0]):.2f} box [{box}]'


def write_chat_transcript(model, dataset, work_dir: str, num: int) -> Tuple[str, float]:
    """Free-running chat on val samples; returns the transcript path and the routing accuracy."""
    chat_dir = osp.join(work_dir, 'chat')
    os.makedirs(chat_dir, exist_ok=True)
    lines = ['# Free-running chat (the model chooses its decoder)', '']
    correct = total = 0
    for task, indices in task_indices(dataset, num).items():
        for idx in indices:
            data = dataset[idx]
            sample = data['data_samples']
            human = [t for t in sample.metainfo['conversation'] if t['from'] == 'human'][:1]
            packed = {k: v for k, v in data['inputs'].items() if v is not None} or None
            if packed is not None and 'clip' not in packed:
                packed = None  # generation prompts carry no input image
            meta = {
                k: sample.metainfo[k]
                for k in ('ori_shape', 'img_shape', 'scale_factor') if k in sample.metainfo
            }
            reply = chat(
                model, packed, human, regions=sample.metainfo.get('regions', ()), metainfo=meta)[0]
            expected = EXPECTED_TOKEN.get(task)
            emitted = [link.routing_token for link in reply.links]
            ok = (expected in emitted) if expected else not emitted
            correct += ok
            total += 1
            lines += [
                f'## {task} (sample {idx}) — routing {"OK" if ok else "WRONG"}',
                f'**user:** {human[0]["value"]}', '', f'**model:** {reply.text}', ''
            ]
            for k, link in enumerate(reply.links):
                lines.append(f'- `{link.routing_token}` after "{link.target_name}": '
                             f'{summarise_link(link)}')
                pred_image = getattr(link.prediction, 'pred_image', None)
                if pred_image is not None:
                    path = osp.join(chat_dir, f'{task}_{idx}_{k}.png')
                    cv2.imwrite(path, cv2.cvtColor(to_rgb_array(pred_image), cv2.COLOR_RGB2BGR))
                    lines.append(f'  ![generated]({osp.relpath(path, work_dir)})')
            lines.append('')
    accuracy = correct / max(total, 1)
    lines.insert(
        1, f'Routing accuracy (expected routing token emitted, none for text tasks): '
        f'{correct}/{total} = {accuracy:.2f}')
    path = osp.join(work_dir, 'chat_transcript.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path, accuracy


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    torch.manual_seed(0)
    metrics_path = osp.join(args.work_dir, 'test_metrics.json')
    if not osp.isfile(metrics_path):
        raise FileNotFoundError(f'{metrics_path} not found: run tools/test.py first')
    with open(metrics_path) as f:
        metrics = json.load(f)

    cfg = Config.fromfile(args.config)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    ann_dir = args.ann_dir or osp.join(cfg.get('data_root', 'data/shapesworld/'), 'annotations')
    metrics.update(chance_levels(ann_dir, evaluated_ids(dataset)))
    metrics.update(caption_chance_levels(metrics))

    model = VisionLLMInferencer(cfg, args.checkpoint).model  # built, loaded, eval mode

    written = write_prediction_grid(model, dataset, args.work_dir, args.num_per_task,
                                    args.score_thr)
    transcript, routing_acc = write_chat_transcript(model, dataset, args.work_dir, args.num_chat)
    metrics['chat/routing_accuracy'] = routing_acc
    table = metrics_table(metrics) + (f'| chat routing accuracy | {routing_acc:.3f} | — | — | '
                                      'expected routing token, none for text tasks |\n')
    table += ('\nDiagnostics (parts of the figures above):\n\n' +
              metrics_table(metrics, DIAGNOSTIC_ROWS))
    with open(osp.join(args.work_dir, 'demo_metrics.md'), 'w') as f:
        f.write(table)
    with open(osp.join(args.work_dir, 'demo_metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
    print(table)
    print('written:', *written, transcript, sep='\n  ')


if __name__ == '__main__':
    main()
