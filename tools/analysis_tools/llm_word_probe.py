"""How well the LLM's hidden states tell the words of a routed target (a linear probe).

Usage::

    python tools/analysis_tools/llm_word_probe.py CONFIG CHECKPOINT [--task grd]
        [--num-train 600] [--num-val 200] [--word-groups person,circle,... red,green,...]
        [--out probe.json] [--cfg-options ...]

For the first ``--num-train`` samples of one task (default ``grd``, the referring expressions) of
the config's training set and the first ``--num-val`` of its test set, the LLM reads each sample
once, teacher-forced as in prediction, and three features per sample and layer are kept (layer 0
= the input embeddings):

* ``answer words``: the mean hidden state over the answer's tokens before its first routing token
  (the expression of a grounding answer, the first class name of a detection answer);
* ``routing token``: the hidden state at that routing token;
* ``queries``: the mean over its link queries (at the last layer: what the decoder reads).

A sample's label for a word group (e.g. the shapes) is the first word of the group among those
answer words; samples without one are left out of that group. A linear classifier is trained on
the standardised training features (full-batch Adam, cross entropy) and scored on the held-out
samples, beside always giving the most frequent training label. A word the answer states no longer
tell did not survive the LLM's layers; one the queries do not carry cannot reach the decoder
(docs/en/training_recipe.md, "The tiny LLM's embedding scale").

Reused: the config's datasets and pipelines, the model's data preprocessor and its LLM pass
(``VisionLLMv2._run_llm``, which returns every layer's hidden states).
"""
import argparse
import json
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.runner import set_random_seed
from torch import Tensor

from mmvisionllm.apis import VisionLLMInferencer
from mmvisionllm.models.language_models import IGNORE_INDEX
from mmvisionllm.registry import DATASETS
from mmvisionllm.utils import register_all_modules

FEATURES = ('answer words', 'routing token', 'queries')
SHAPESWORLD_WORD_GROUPS = ('person,circle,square,triangle,star,cross',
                           'red,green,blue,yellow,purple')


def parse_args():
    parser = argparse.ArgumentParser(description='Probe the LLM hidden states for answer words')
    parser.add_argument('config', help='VisionLLMv2 config (its train and test sets)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--task', default='grd', help='a task whose answers are routed')
    parser.add_argument('--num-train', type=int, default=600, help='training samples')
    parser.add_argument('--num-val', type=int, default=200, help='held-out samples')
    parser.add_argument(
        '--word-groups',
        nargs='+',
        default=list(SHAPESWORLD_WORD_GROUPS),
        help='comma-separated words, one group per probe')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--iters', type=int, default=500, help='probe training steps')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the figures to this json file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override settings of the config')
    return parser.parse_args()


@torch.no_grad()
def routed_features(
        model, samples: Sequence[dict]) -> Tuple[Dict[Tuple[str, int], Tensor], List[List[str]]]:
    """Per-layer features of a batch of routed samples (see the module docstring).

    Args:
        model (VisionLLMv2): The model, in eval mode.
        samples (Sequence[dict]): Packed samples (``dataset[i]``) whose answers hold a routing
            token.

    Returns:
        tuple: ``{(feature, layer): [B, C]}`` and, per sample, the answer's words before its first
        routing token.
    """
    data = model.data_preprocessor(pseudo_collate(list(samples)), False)
    inputs, data_samples = data['inputs'], data['data_samples']
    # the same LLM pass as training and teacher-forced prediction (all layers' hidden states)
    hidden = model._run_llm(inputs, data_samples, with_labels=False).hidden_states
    input_ids = inputs['input_ids']
    routing_ids = torch.tensor(sorted(model.super_link.group_of_token), device=input_ids.device)
    query_id = model.conversation_tokenizer.query_token_id
    features: Dict[Tuple[str, int], List[Tensor]] = {}
    words = []
    for b, ids in enumerate(input_ids):
        routed = torch.isin(ids, routing_ids).nonzero().flatten()
        if not len(routed):
            raise ValueError(f'sample {data_samples[b].metainfo.get("img_path")!r} has no '
                             'routing token in its answer')
        routing = int(routed[0])
        answer = (inputs['labels'][b] != IGNORE_INDEX).nonzero().flatten()
        answer = answer[answer < routing]
        queries = routing + 1 + (ids[routing + 1:] == query_id).long().cumprod(0).nonzero()
        if not len(answer) or not len(queries):
            raise ValueError(f'sample {data_samples[b].metainfo.get("img_path")!r}: no answer '
                             'words or no link queries around its routing token')
        words.append(model.tokenizer.decode(ids[answer]).lower().split())
        for layer, states in enumerate(hidden):
            rows = states[b].float()
            values = (rows[answer].mean(0), rows[routing], rows[queries.flatten()].mean(0))
            for name, value in zip(FEATURES, values):
                features.setdefault((name, layer), []).append(value)
    return {key: torch.stack(value) for key, value in features.items()}, words


def word_labels(words: Sequence[Sequence[str]], group: Sequence[str]) -> Tensor:
    """Index in ``group`` of the first group word of each sample's words; -1 where none."""
    labels = []
    for sample_words in words:
        found = [group.index(w) for w in sample_words if w in group]
        labels.append(found[0] if found else -1)
    return torch.tensor(labels, dtype=torch.long)


def probe(train: Tuple[Tensor, Tensor],
          val: Tuple[Tensor, Tensor],
          num_classes: int,
          iters: int = 500) -> Dict[str, float]:
    """Held-out accuracy of a linear probe and of the majority training label.

    Args:
        train (tuple[Tensor, Tensor]): Features [N, C] and labels [N] (-1 = no label).
        val (tuple[Tensor, Tensor]): The same for the held-out samples.
        num_classes (int): Number of labels.
        iters (int): Full-batch Adam steps.

    Returns:
        dict[str, float]: ``accuracy``, ``majority_accuracy``, ``num_val``.
    """
    (x_train, y_train), (x_val, y_val) = train, val
    x_train, y_train = x_train[y_train >= 0], y_train[y_train >= 0]
    x_val, y_val = x_val[y_val >= 0], y_val[y_val >= 0]
    if not len(y_train) or not len(y_val):
        raise ValueError('probe: no labelled training or held-out samples for this word group')
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    classifier = torch.nn.Linear(x_train.shape[1], num_classes)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-2, weight_decay=1e-3)
    with torch.enable_grad():
        for _ in range(iters):
            loss = torch.nn.functional.cross_entropy(classifier(x_train), y_train)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        accuracy = (classifier(x_val).argmax(-1) == y_val).float().mean()
    majority = torch.bincount(y_train, minlength=num_classes).argmax()
    return dict(
        accuracy=float(accuracy),
        majority_accuracy=float((y_val == majority).float().mean()),
        num_val=int(len(y_val)))


def task_dataset(dataset_cfg: dict, task: str):
    """The ``task`` part of a (multi-task) dataset config, built."""
    dataset = DATASETS.build(dataset_cfg)
    for part in getattr(dataset, 'datasets', [dataset]):
        if getattr(part, 'task', None) == task:
            return part
    raise ValueError(f'the dataset has no {task!r} samples')


def collect(model, dataset, num: int, batch_size: int):
    """Features and answer words of the first ``num`` samples of ``dataset``."""
    features, words = {}, []
    for start in range(0, min(num, len(dataset)), batch_size):
        stop = min(start + batch_size, num, len(dataset))
        batch_features, batch_words = routed_features(model,
                                                      [dataset[i] for i in range(start, stop)])
        for key, value in batch_features.items():
            features.setdefault(key, []).append(value)
        words += batch_words
    return {key: torch.cat(value) for key, value in features.items()}, words


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    # python's random too: training samples draw their instruction phrasing from it
    set_random_seed(args.seed)
    model = VisionLLMInferencer(cfg, args.checkpoint).model  # built, loaded, eval mode
    train, train_words = collect(model, task_dataset(cfg.train_dataloader.dataset, args.task),
                                 args.num_train, args.batch_size)
    val, val_words = collect(model, task_dataset(cfg.test_dataloader.dataset, args.task),
                             args.num_val, args.batch_size)
    groups = [group.split(',') for group in args.word_groups]
    figures = {}
    for key in sorted(train, key=lambda k: (FEATURES.index(k[0]), k[1])):
        figures[f'{key[0]} @ layer {key[1]}'] = {
            group[0] + '...':
            probe((train[key], word_labels(train_words, group)),
                  (val[key], word_labels(val_words, group)), len(group), args.iters)
            for group in groups
        }
    names = [group[0] + '...' for group in groups]
    print(f'{"feature":<26}' + ''.join(f'{n + " (majority)":>26}' for n in names))
    for row, values in figures.items():
        print(f'{row:<26}' + ''.join(
            f'{values[n]["accuracy"]:>14.3f} ({values[n]["majority_accuracy"]:.3f})' + ' ' * 2
            for n in names))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(figures, f, indent=2)


if __name__ == '__main__':
    main()
