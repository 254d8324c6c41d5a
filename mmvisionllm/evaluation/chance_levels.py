"""Chance levels of the ShapesWorld metrics, computed from the annotation files.

A demo figure means something only next to what a model that ignores the image would score:

* VQA: the most frequent training answer of each question, or of each question type (two
  text-only priors), scored by :func:`vqa_accuracy` on the val annotations;
* captioning: the training caption that scores best on the training split (among the most frequent
  ones) given for every val image, scored by :class:`CaptionMetric` (BLEU-4, CIDEr);
* referring expressions: a box of a randomly chosen object of the image (expected P@0.5, i.e. the
  fraction of the image's objects whose box overlaps the referent's with IoU >= 0.5);
* box / mask / keypoint AP: 0 — a detector that does not look scores no true positives beyond
  luck, and mmdet/mmpose AP of random boxes is 0.000 to three decimals.

Each function takes the ids of the evaluated samples (question / image / expression ids), so a
chance level is computed on exactly the subset a model was scored on (e.g. the samples kept by
``MultiTaskDataset(max_samples=...)``).

Generation and editing get their reference scores from their own metrics (real images of other
prompts; the unchanged source image), see ``ShapesGenEvalMetric(reference_images=True)``.
Reused: pycocotools' ``maskUtils.iou`` for box IoU, our VQA and caption metrics for scoring.
"""
import json
from collections import Counter, defaultdict
from typing import Collection, Dict, List, Optional

import numpy as np
from pycocotools import mask as mask_utils

from .metrics.caption_metric import CaptionMetric
from .metrics.vqa_metric import vqa_accuracy

__all__ = ['vqa_prior_scores', 'best_constant_caption_scores', 'rec_random_object_precision']


def _load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _keep(ids: Optional[Collection[int]], key: int) -> bool:
    return ids is None or key in ids


def _check_all_found(ids: Optional[Collection[int]], found: set, path: str, what: str) -> None:
    missing = set() if ids is None else set(ids) - found
    if missing:
        raise ValueError(f'{path} has no {what} {sorted(missing)[:5]} ({len(missing)} missing)')


def vqa_prior_scores(train_questions: str,
                     train_annotations: str,
                     val_questions: str,
                     val_annotations: str,
                     question_ids: Optional[Collection[int]] = None,
                     by: str = 'question') -> Dict[str, float]:
    """VQA accuracy of answering each question with its most frequent training answer.

    With ``by='question'`` the prior is keyed by the question text, falling back to the question
    type, then to the overall most frequent answer; with ``by='question_type'`` by the question type
    (e.g. "what color is the"), then overall. Neither is always the stronger: the text prior knows
    more, but rests on few training examples per question (ShapesWorld: 0.352 against 0.345 on the
    demo subset overall, 0.123 against 0.188 on its colour/shape questions), so a report should
    take the better of the two.

    Args:
        train_questions (str): VQAv2-style question json of the training split.
        train_annotations (str): VQAv2-style annotation json (``question_type``,
            ``multiple_choice_answer``, ``answers``) of the training split.
        val_questions (str): Question json of the evaluated split.
        val_annotations (str): Annotation json of the evaluated split.
        question_ids (Collection[int], optional): Score only these val questions. Defaults to all.
        by (str): ``'question'`` or ``'question_type'`` (above). Defaults to ``'question'``.

    Returns:
        dict: ``accuracy`` and, per VQAv2 ``answer_type`` of the val annotations,
        ``accuracy_<type>`` (the keys of :class:`VQAAccuracy`).
    """
    if by not in ('question', 'question_type'):
        raise ValueError(f"by must be 'question' or 'question_type', got {by!r}")

    def question_texts(path: str) -> Dict[int, str]:
        return {q['question_id']: q['question'] for q in _load(path)['questions']}

    train_text, val_text = question_texts(train_questions), question_texts(val_questions)
    by_question, by_type, overall = defaultdict(Counter), defaultdict(Counter), Counter()
    for ann in _load(train_annotations)['annotations']:
        answer = ann['multiple_choice_answer']
        by_question[train_text[ann['question_id']]][answer] += 1
        by_type[ann['question_type']][answer] += 1
        overall[answer] += 1
    scores, found, by_answer_type = [], set(), defaultdict(list)
    for ann in _load(val_annotations)['annotations']:
        if not _keep(question_ids, ann['question_id']):
            continue
        found.add(ann['question_id'])
        counts = ((by_question.get(val_text[ann['question_id']]) if by == 'question' else None)
                  or by_type.get(ann['question_type']) or overall)
        answer = counts.most_common(1)[0][0]
        scores.append(vqa_accuracy(answer, [a['answer'] for a in ann['answers']]))
        if ann.get('answer_type'):
            by_answer_type[ann['answer_type']].append(scores[-1])
    _check_all_found(question_ids, found, val_annotations, 'answer of question')
    if not scores:
        raise ValueError(f'{val_annotations} holds no annotation')
    return dict(
        accuracy=float(np.mean(scores)),
        **{
            f'accuracy_{t}': float(np.mean(v))
            for t, v in sorted(by_answer_type.items())
        })


def best_constant_caption_scores(train_captions: str,
                                 val_captions: str,
                                 image_ids: Optional[Collection[int]] = None,
                                 num_candidates: int = 50,
                                 num_selection_images: int = 400) -> Dict[str, float]:
    """BLEU-4 / CIDEr of the best image-blind caption, chosen on the training split.

    The candidates are the ``num_candidates`` most frequent training captions; for each metric the
    one scoring best against the references of the first ``num_selection_images`` training images
    (sorted ids) is given to every val image. This is the caption a model that never looks at the
    image could learn to say; the single most frequent caption is a much weaker prior (a short
    caption such as "a picture with a person." scores far below a longer generic one).

    Args:
        train_captions (str): COCO-caption json of the training split.
        val_captions (str): COCO-caption json of the evaluated split.
        image_ids (Collection[int], optional): Score only these val images. Defaults to all.
        num_candidates (int): Most frequent training captions tried. Defaults to 50.
        num_selection_images (int): Training images the choice is made on. Defaults to 400.

    Returns:
        dict: ``bleu4`` and ``cider`` on val, and the chosen captions ``bleu4_caption`` and
        ``cider_caption``.
    """
    train_refs = defaultdict(list)
    train_counts = Counter()
    for ann in _load(train_captions)['annotations']:
        train_refs[ann['image_id']].append(ann['caption'])
        train_counts[ann['caption']] += 1
    references = defaultdict(list)
    for ann in _load(val_captions)['annotations']:
        if _keep(image_ids, ann['image_id']):
            references[ann['image_id']].append(ann['caption'])
    _check_all_found(image_ids, set(references), val_captions, 'caption of image')
    if not train_counts or not references:
        raise ValueError(f'{train_captions} or {val_captions} holds no caption')
    selection = [train_refs[i] for i in sorted(train_refs)[:num_selection_images]]
    candidates = [caption for caption, _ in train_counts.most_common(num_candidates)]
    on_train = [_constant_caption_scores(caption, selection) for caption in candidates]
    chosen = {
        key: candidates[max(range(len(candidates)), key=lambda i: on_train[i][key])]
        for key in ('bleu4', 'cider')
    }
    # one val scoring per distinct chosen caption (usually one caption wins both metrics)
    on_val = {
        caption: _constant_caption_scores(caption, list(references.values()))
        for caption in set(chosen.values())
    }
    result = {key: on_val[caption][key] for key, caption in chosen.items()}
    result.update({f'{key}_caption': caption for key, caption in chosen.items()})
    return result


def _constant_caption_scores(caption: str, references: List[List[str]]) -> Dict[str, float]:
    """BLEU-4 / CIDEr of giving ``caption`` to every image of ``references``."""
    metric = CaptionMetric()
    metric.process(None, [dict(pred_text=caption, gt_captions=refs) for refs in references])
    return metric.compute_metrics(metric.results)


def rec_random_object_precision(refexp: str,
                                instances: str,
                                iou_thr: float = 0.5,
                                expression_ids: Optional[Collection[int]] = None) -> float:
    """Expected P@``iou_thr`` of answering each expression with a random object of its image.

    Args:
        refexp (str): MDETR-style refexp json (images with ``original_img_id``, one annotation per
            expression with the referent's box).
        instances (str): COCO instances json of the same images (all objects).
        iou_thr (float): IoU for a hit. Defaults to 0.5.
        expression_ids (Collection[int], optional): Score only these expressions (the refexp
            json's image ids, one per expression). Defaults to all.
    """
    ref = _load(refexp)
    objects = defaultdict(list)
    for ann in _load(instances)['annotations']:
        objects[ann['image_id']].append(ann['bbox'])
    image_of = {img['id']: img.get('original_img_id', img['id']) for img in ref['images']}
    scores, found = [], set()
    for ann in ref['annotations']:
        if not _keep(expression_ids, ann['image_id']):
            continue
        found.add(ann['image_id'])
        boxes = objects.get(image_of[ann['image_id']])
        if not boxes:
            raise ValueError(f'{instances} has no object of the image of expression {ann["id"]}')
        ious = mask_utils.iou(
            np.asarray(boxes, np.float64), np.asarray([ann['bbox']], np.float64), [0])[:, 0]
        scores.append(float(np.mean(ious >= iou_thr)))
    _check_all_found(expression_ids, found, refexp, 'expression')
    if not scores:
        raise ValueError(f'{refexp} holds no expression')
    return float(np.mean(scores))
