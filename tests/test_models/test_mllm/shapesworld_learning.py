"""Train the tiny VisionLLMv2 on ShapesWorld for a fixed number of steps; measure what it learned.

Used by test_mllm_learning.py (and runnable as a script to print the numbers). The detection/pose
decoders are stood in for by the test-only ``ToyPointLinkDecoder``: what is measured here is the LLM
side, i.e. whether free-running chat emits the right routing token per task and answers VQA from
the image better than the best text-only predictor (the most frequent training answer of each
question text, which never sees the image).
"""
import collections
import copy
import math
import os.path as osp
import random
import time
from typing import Dict, List

import torch
from mllm_builders import REPO_ROOT, TINY_CONFIG
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

from mmvisionllm.registry import DATASETS, MODELS

TASKS_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', 'shapesworld_tasks.py')
EXPECTED_ROUTING = {'det': '[DET]', 'grd': '[GRD]', 'pose': '[POSE]', 'vqa': None}


def _datasets(data_root: str, split: str) -> Dict[str, object]:
    cfg = Config.fromfile(TASKS_CONFIG)
    result = {}
    for task in EXPECTED_ROUTING:
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


def text_only_vqa_baseline(train_set, val_items) -> float:
    """Accuracy of answering each question with its most frequent training answer."""
    by_question = collections.defaultdict(collections.Counter)
    overall = collections.Counter()
    for index in range(len(train_set)):
        info = train_set.get_data_info(index)
        by_question[info['question']][info['answer']] += 1
        overall[info['answer']] += 1
    fallback = overall.most_common(1)[0][0]
    hits = 0
    for info in val_items:
        counts = by_question.get(info['question'])
        hits += (counts.most_common(1)[0][0] if counts else fallback) == info['answer']
    return hits / len(val_items)


def generate_data(out_dir: str, num_train: int = 2000, num_val: int = 200) -> str:
    """A private ShapesWorld copy (seed 0): a concurrent regeneration of data/ cannot interfere."""
    from mmvisionllm.datasets.shapesworld import generate_shapesworld
    generate_shapesworld(
        out_dir, seed=0, num_train=num_train, num_val=num_val, overwrite=True, show_progress=False)
    return out_dir


def train_and_evaluate(data_root: str,
                       num_steps: int = 1600,
                       num_eval: int = 40,
                       num_eval_vqa: int = 200,
                       batch_size: int = 8,
                       lr: float = 2e-3,
                       seed: int = 0) -> dict:
    """Train ``num_steps`` steps on the ShapesWorld under ``data_root``, then evaluate in
    free-running chat.

    Returns:
        dict: steps, seconds per step, routing accuracy per task, VQA accuracy and the text-only
        baseline's VQA accuracy on the same questions.
    """
    torch.manual_seed(seed)
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
    vqa_items, vqa_hits = [], 0
    for task, dataset in val.items():
        count = num_eval_vqa if task == 'vqa' else num_eval
        indices = random.Random(seed + 1).sample(range(len(dataset)), min(count, len(dataset)))
        hits = 0
        for start_index in range(0, len(indices), 8):
            chunk = indices[start_index:start_index + 8]
            samples = model.test_step(pseudo_collate([dataset[i] for i in chunk]))
            for index, sample in zip(chunk, samples):
                text = sample.metainfo['pred_text']
                examples.setdefault(task, []).append(text)
                emitted = [
                    t for t in ('[DET]', '[SEG]', '[GRD]', '[POSE]', '[GEN]', '[EDIT]') if t in text
                ]
                expected = EXPECTED_ROUTING[task]
                hits += emitted == ([expected] if expected else [])
                if task == 'vqa':
                    info = dataset.get_data_info(index)
                    vqa_items.append(info)
                    vqa_hits += text.strip() == info['answer']
        routing_hits[task] = hits / len(indices)
    return dict(
        steps=steps,
        seconds_per_step=seconds_per_step,
        first_loss=sum(losses[:10]) / 10,
        last_loss=sum(losses[-10:]) / 10,
        routing_accuracy=routing_hits,
        vqa_accuracy=vqa_hits / len(vqa_items),
        text_only_vqa_accuracy=text_only_vqa_baseline(train['vqa'], vqa_items),
        examples={
            task: texts[:3]
            for task, texts in examples.items()
        })


if __name__ == '__main__':
    import argparse
    import sys
    sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'data'))
    import toy_link_decoder  # noqa: F401

    from mmvisionllm.utils import register_all_modules
    register_all_modules()
    torch.set_num_threads(2)
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=1600)
    parser.add_argument('--num-eval', type=int, default=40)
    parser.add_argument('--data-root', default='data/shapesworld')
    args = parser.parse_args()
    print(train_and_evaluate(args.data_root, args.steps, args.num_eval))
