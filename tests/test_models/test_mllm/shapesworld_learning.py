"""Train the tiny VisionLLMv2 on ShapesWorld for a fixed number of steps; measure what it learned.

Used by test_mllm_learning.py (``python tests/test_models/test_mllm/shapesworld_learning.py`` prints
the numbers of :func:`train_and_evaluate`). The detection/pose decoders are stood in for by the
test-only ``ToyPointLinkDecoder``: what is measured here is the LLM side. :func:`train_and_evaluate`
trains every task and asks whether free-running chat emits the right routing token per task and
how well it answers VQA: against the best text-only predictor (the most frequent training answer of
each question text, which never sees the image) and against itself with each question asked of
another scene's image. :func:`overfit_image_questions` trains VQA alone on questions that only the
image can answer.
"""
import collections
import copy
import math
import os.path as osp
import random
import time
from typing import Dict, List, Optional

import torch
from mllm_builders import REPO_ROOT, TINY_CONFIG
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.runner import set_random_seed

from mmvisionllm.registry import DATASETS, MODELS

TASKS_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', 'shapesworld_tasks.py')
EXPECTED_ROUTING = {'det': '[DET]', 'grd': '[GRD]', 'pose': '[POSE]', 'vqa': None}


def _datasets(data_root: str, split: str, tasks=tuple(EXPECTED_ROUTING)) -> Dict[str, object]:
    cfg = Config.fromfile(TASKS_CONFIG)
    result = {}
    for task in tasks:
        ds_cfg = copy.deepcopy(cfg[f'shapesworld_{task}_{split}'])
        ds_cfg['data_root'] = data_root.rstrip('/') + '/'
        for transform in ds_cfg['pipeline']:
            if transform['type'] == 'DynamicTiling':  # one 64 px tile: 64 vision tokens on the CPU
                transform['max_tiles'] = 1
        result[task] = DATASETS.build(ds_cfg)
    return result


def build_tiny_model(data_root: str, num_queries: int = 2):
    """The shipped tiny config, made smaller for a CPU budget of minutes (LLaMA 128 x 3 layers,
    CLIP 64 x 3 layers), with stand-in decoders for the det and pose groups."""
    cfg = Config.fromfile(TINY_CONFIG).model.to_dict()
    cfg['llm']['tokenizer_path'] = osp.join(data_root, 'tokenizer')
    cfg['llm']['config'].update(
        hidden_size=128,
        intermediate_size=344,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=4)
    cfg['vision_encoder']['config'].update(hidden_size=64, intermediate_size=128)
    cfg['region_encoder'] = None
    # The tiny CLIP is random: freezing it (the default, right for a pretrained CLIP) would only
    # throw away capacity, so here it trains with the rest.
    cfg['frozen_components'] = ()
    cfg['decoders'] = dict(
        det=dict(
            type='ToyPointLinkDecoder',
            routing_tokens=('[DET]', '[SEG]', '[GRD]'),
            num_queries=num_queries),
        pose=dict(type='ToyPointLinkDecoder', routing_tokens=('[POSE]', ), num_queries=num_queries))
    cfg['max_new_tokens'] = 64
    return MODELS.build(cfg)


def text_only_vqa_answers(train_set, val_items) -> List[str]:
    """The best image-blind answer to each of ``val_items``: the most frequent training answer of
    its question text (of all questions, for a text never seen in training)."""
    by_question = collections.defaultdict(collections.Counter)
    overall = collections.Counter()
    for index in range(len(train_set)):
        info = train_set.get_data_info(index)
        by_question[info['question']][info['answer']] += 1
        overall[info['answer']] += 1
    fallback = overall.most_common(1)[0][0]
    return [
        by_question[info['question']].most_common(1)[0][0]
        if info['question'] in by_question else fallback for info in val_items
    ]


def _routing_tokens(text: str) -> List[str]:
    return [t for t in ('[DET]', '[SEG]', '[GRD]', '[POSE]', '[GEN]', '[EDIT]') if t in text]


def _chat(model, samples: List[dict], batch_size: int = 8) -> List[str]:
    """Free-running chat answers of ``model`` to ``samples`` (pipeline outputs), in order."""
    texts = []
    for start in range(0, len(samples), batch_size):
        outputs = model.test_step(pseudo_collate(samples[start:start + batch_size]))
        texts += [output.metainfo['pred_text'] for output in outputs]
    return texts


def _with_other_images(samples: List[dict]) -> List[dict]:
    """``samples`` with each one's image inputs replaced by those of the next sample (in a
    cycle) that shows another scene: the same questions, asked of the wrong image."""
    swapped = []
    for k, sample in enumerate(samples):
        img_id = sample['data_samples'].img_id
        for step in range(1, len(samples)):
            donor = samples[(k + step) % len(samples)]
            if donor['data_samples'].img_id != img_id:
                break
        else:
            raise ValueError('every sample shows the same scene: no other image to swap in')
        swapped.append(dict(sample, inputs=donor['inputs']))
    return swapped


def generate_data(out_dir: str, num_train: int = 2000, num_val: int = 200) -> str:
    """A private ShapesWorld copy (seed 0): a concurrent regeneration of data/ cannot interfere."""
    from mmvisionllm.datasets.shapesworld import generate_shapesworld
    generate_shapesworld(
        out_dir, seed=0, num_train=num_train, num_val=num_val, overwrite=True, show_progress=False)
    return out_dir


def train_and_evaluate(data_root: str,
                       num_steps: int = 1600,
                       num_eval: int = 40,
                       num_eval_vqa: Optional[int] = 200,
                       batch_size: int = 8,
                       lr: float = 2e-3,
                       seed: int = 0) -> dict:
    """Train ``num_steps`` steps on the ShapesWorld under ``data_root``, then evaluate in
    free-running chat.

    Args:
        num_eval_vqa (int, optional): VQA questions to ask (a seeded sample of val); None: all.

    Returns:
        dict: steps, seconds per step, routing accuracy per task; the share of VQA answers that are
        an answer of the question's type; the VQA accuracy, the text-only
        baseline's and the model's own with each question asked of another scene's image, the
        number of questions answered right only with the own / only with the other image, and the
        three accuracies per VQAv2 answer type.
    """
    # python's and numpy's generators too: the pipelines draw prompt wordings and class orders
    set_random_seed(seed)
    rng = random.Random(seed)
    train, val = _datasets(data_root, 'train'), _datasets(data_root, 'val')
    model = build_tiny_model(data_root)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=lr,
                                  weight_decay=0.0)
    warmup = 50
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) *
        (0.55 + 0.45 * math.cos(math.pi * min(step / num_steps, 1.0))))
    optim_wrapper = OptimWrapper(optimizer, clip_grad=dict(max_norm=1.0))
    # VQA needs most of the budget; the routing templates are learnt in a few dozen steps each.
    task_weights = {'det': 1, 'grd': 2, 'pose': 2, 'vqa': 8}
    tasks = [t for t, w in task_weights.items() for _ in range(w)]
    model.train()
    steps, start = 0, time.perf_counter()
    losses: List[float] = []
    while steps < num_steps:
        task = rng.choice(tasks)
        dataset = train[task]
        batch = pseudo_collate([dataset[rng.randrange(len(dataset))] for _ in range(batch_size)])
        losses.append(float(model.train_step(batch, optim_wrapper)['loss'].detach()))
        scheduler.step()
        steps += 1
    seconds_per_step = (time.perf_counter() - start) / steps

    model.eval()
    model.predict_mode = 'chat'
    routing_hits, examples = {}, {}
    for task, dataset in val.items():
        count = (num_eval_vqa or len(dataset)) if task == 'vqa' else num_eval
        indices = random.Random(seed + 1).sample(range(len(dataset)), min(count, len(dataset)))
        samples = [dataset[i] for i in indices]
        texts = _chat(model, samples)
        examples[task] = texts[:3]
        expected = EXPECTED_ROUTING[task]
        routing_hits[task] = sum(
            _routing_tokens(text) == ([expected] if expected else [])
            for text in texts) / len(texts)
        if task == 'vqa':
            vqa_items = [dataset.get_data_info(i) for i in indices]
            vqa_texts = texts
            own = [text.strip() == info['answer'] for text, info in zip(texts, vqa_items)]
            # the same samples (their prompt wording too), each with another scene's image
            swapped_texts = _chat(model, _with_other_images(samples))
            swapped = [
                text.strip() == info['answer'] for text, info in zip(swapped_texts, vqa_items)
            ]
    text_only = text_only_vqa_answers(train['vqa'], vqa_items)
    # every answer of each VQAv2 question type in training ('how many': numbers, 'what color':
    # colour names, ...)
    answers_of_type = collections.defaultdict(set)
    for index in range(len(train['vqa'])):
        info = train['vqa'].get_data_info(index)
        answers_of_type[info['question_type']].add(info['answer'])
    of_its_type = [
        text.strip() in answers_of_type[info['question_type']]
        for text, info in zip(vqa_texts, vqa_items)
    ]
    by_type = collections.defaultdict(lambda: collections.defaultdict(list))
    for info, hit, swapped_hit, prior in zip(vqa_items, own, swapped, text_only):
        by_type[info['answer_type']]['image'].append(hit)
        by_type[info['answer_type']]['other_image'].append(swapped_hit)
        by_type[info['answer_type']]['text_only'].append(prior == info['answer'])
    return dict(
        steps=steps,
        seconds_per_step=seconds_per_step,
        first_loss=sum(losses[:10]) / 10,
        last_loss=sum(losses[-10:]) / 10,
        routing_accuracy=routing_hits,
        vqa_accuracy=sum(own) / len(own),
        # share of the answers that are answers of the question's type (right or wrong)
        vqa_answer_of_type=sum(of_its_type) / len(of_its_type),
        text_only_vqa_accuracy=sum(p == i['answer']
                                   for p, i in zip(text_only, vqa_items)) / len(vqa_items),
        other_image_vqa_accuracy=sum(swapped) / len(swapped),
        # questions right with their own image only, and right with another scene's image only
        own_image_only_hits=sum(a and not b for a, b in zip(own, swapped)),
        other_image_only_hits=sum(b and not a for a, b in zip(own, swapped)),
        vqa_accuracy_by_answer_type={
            answer_type: {
                key: sum(hits) / len(hits)
                for key, hits in figures.items()
            }
            for answer_type, figures in sorted(by_type.items())
        },
        examples=examples)


def image_bound_questions(dataset,
                          num_items: int,
                          per_text: int = 4,
                          answer_type: str = 'other') -> List[int]:
    """Indices of ``num_items`` questions of ``dataset`` (of one VQAv2 answer type; 'other' are the
    colour and shape questions), ``per_text`` per question text with a different answer and image
    each: the text alone cannot tell them apart (the best text-only answerer gets one of each
    ``per_text``), the image can."""
    by_text = collections.defaultdict(list)
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        if info['answer_type'] != answer_type:
            continue
        by_text[info['question']].append((index, info['answer'], info['img_id']))
    chosen, images = [], set()
    for _, entries in sorted(by_text.items(), key=lambda item: (-len(item[1]), item[0])):
        group, answers = [], set()
        for index, answer, img_id in entries:
            if answer not in answers and img_id not in images and len(group) < per_text:
                group.append(index)
                answers.add(answer)
                images.add(img_id)
        if len(group) == per_text:
            chosen += group
        if len(chosen) == num_items:
            return chosen
    raise ValueError(f'{dataset.ann_file}: fewer than {num_items} questions of {per_text} '
                     'answers per text')


def overfit_image_questions(data_root: str,
                            num_items: int = 16,
                            num_steps: int = 1000,
                            batch_size: int = 8,
                            lr: float = 1e-3,
                            seed: int = 0) -> dict:
    """Train VQA alone on the :func:`image_bound_questions` of the training set; ask them again
    with their own images and with other scenes' images.

    The tower trains with the rest (frozen at its random init, the answers stayed at the text-only
    figure after 600 steps); at 2e-3 the loss stalled near 0.5 with some questions unlearnt.

    Returns:
        dict: first/last loss (means of 10 steps), the accuracy with the own images, with other
        images, and the best text-only accuracy on these questions.
    """
    # python's and numpy's generators too: the pipelines draw prompt wordings and class orders
    set_random_seed(seed)
    rng = random.Random(seed)
    dataset = _datasets(data_root, 'train', ('vqa', ))['vqa']
    indices = image_bound_questions(dataset, num_items)
    samples = [dataset[i] for i in indices]
    # The pipeline words each question with a random prompt template, fixed per sample here: one
    # wording per question text, or the model tells the samples apart by their wording.
    wording = {}
    for index, sample in zip(indices, samples):
        conversation = sample['data_samples'].conversation
        human = wording.setdefault(dataset.get_data_info(index)['question'], conversation[0])
        sample['data_samples'].set_metainfo(dict(conversation=[human] + conversation[1:]))
    answers = [sample['data_samples'].gt_answers[0] for sample in samples]
    model = build_tiny_model(data_root)
    optim_wrapper = OptimWrapper(
        torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr),
        clip_grad=dict(max_norm=1.0))
    model.train()
    losses = [
        float(
            model.train_step(
                pseudo_collate([rng.choice(samples)
                                for _ in range(batch_size)]), optim_wrapper)['loss'].detach())
        for _ in range(num_steps)
    ]
    model.eval()
    model.predict_mode = 'chat'
    own = _chat(model, samples)
    other = _chat(model, _with_other_images(samples))
    return dict(
        first_loss=sum(losses[:10]) / 10,
        last_loss=sum(losses[-10:]) / 10,
        own_image_accuracy=sum(t.strip() == a for t, a in zip(own, answers)) / len(samples),
        other_image_accuracy=sum(t.strip() == a for t, a in zip(other, answers)) / len(samples),
        text_only_accuracy=len(wording) / len(samples))


if __name__ == '__main__':
    import argparse
    import sys
    sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'data'))
    import toy_link_decoder  # noqa: F401

    from mmvisionllm.utils import register_all_modules
    register_all_modules()
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=1600)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--data-root', default='data/shapesworld')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(train_and_evaluate(args.data_root, args.steps))
