"""The object-counting plugin: its dataset's counts, its decoder learning through the core, and
chat routing a counting request to it; built from the plugin's own stage-3 config."""
import collections
import json
import os.path as osp

import pytest
import torch
from learning_figures import report_figures
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

from mmvisionllm.datasets.shapesworld import generate_shapesworld
from mmvisionllm.registry import DATASETS, MODELS

HERE = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(HERE, 'configs', 'visionllmv2_tiny_count_stage3_shapesworld.py')


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp('world')
    generate_shapesworld(
        str(root), show_progress=False, seed=0, num_train=12, num_val=6, img_size=128)
    return root


@pytest.fixture(scope='module')
def cfg(world):
    """The plugin's stage-3 config at test size (the core's other decoders left out)."""
    cfg = Config.fromfile(CONFIG)  # custom_imports: projects.object_counting.object_counting
    cfg.model.llm.tokenizer_path = str(world / 'tokenizer')
    cfg.model.llm.config.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2)
    cfg.model.vision_encoder.config.update(
        image_size=32, hidden_size=32, intermediate_size=64, num_attention_heads=2)
    cfg.model.region_encoder.update(stem_channels=16, num_points=8)
    cfg.model.decoders = dict(count=dict(type='CountLinkDecoder', feat_channels=32, image_size=64))
    for split in ('train', 'val'):
        loader = cfg.train_dataloader if split == 'train' else cfg.test_dataloader
        dataset = loader.dataset.datasets[0]
        dataset.data_root = str(world) + '/'
        dataset.pipeline[1] = dict(type='DynamicTiling', tile_size=32, max_tiles=1)
    return cfg


def _coco_counts(world, split):
    coco = json.load(open(world / 'annotations' / f'instances_{split}.json'))
    names = {c['id']: c['name'] for c in coco['categories']}
    counts = {img['id']: collections.Counter() for img in coco['images']}
    for ann in coco['annotations']:
        counts[ann['image_id']][names[ann['category_id']]] += 1
    return counts


def test_the_dataset_asks_for_every_class_and_counts_its_instances(cfg, world):
    dataset = DATASETS.build(cfg.test_dataloader.dataset.datasets[0])
    truth = _coco_counts(world, 'val')
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        meta = sample.metainfo
        assert meta['task'] == 'count' and meta['link_tokens'] == ['[CNT]'] * 6
        assert meta['gt_counts'] == {n: truth[meta['img_id']][n] for n in meta['target_names']}
        assert meta['conversation'][1]['value'] == ', '.join(f'{n} [CNT]'
                                                             for n in meta['target_names'])


def test_the_decoder_learns_and_chat_routes_a_counting_request_to_it(cfg):
    """60 steps on 4 images; chat then routes every class to [CNT] and the counts are learned.

    Measured under the five kernel settings of ``tools/analysis_tools/learning_test_spread.py``
    (1 and 2 threads, oneDNN off, ATen AVX2 and unvectorised; AVX-512 CPU): count loss ratio
    0.086-0.114 (bound 0.3), all 24 counts routed, mean count error 0.337-0.442. The best constant
    guess (the median count) errs by 0.667, so the bound 0.55 (it was 0.5, 12 % above the worst
    setting) still asks for counts read from the image:
    ``python tools/analysis_tools/learning_test_spread.py projects/object_counting/tests/
    test_object_counting.py::test_the_decoder_learns_and_chat_routes_a_counting_request_to_it``.
    """
    dataset = DATASETS.build(cfg.test_dataloader.dataset.datasets[0])
    batch = pseudo_collate([dataset[i] for i in range(4)])
    model_cfg = cfg.model.copy()
    # a random tiny LLM (no trained core here) learns the answer format only when it trains whole
    model_cfg.update(frozen_components=('vision_encoder', ))
    model_cfg.llm.lora = None
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    assert model.llm.tokenizer.convert_tokens_to_ids('[CNT]') == len(model.llm.tokenizer) - 1
    wrapper = OptimWrapper(
        torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3))
    model.train()
    history = [model.train_step(batch, wrapper) for _ in range(60)]
    model.eval()
    model.predict_mode = 'chat'  # the LLM writes the answer; each [CNT] it emits calls the decoder
    predicted = model.test_step(pseudo_collate([dataset[i] for i in range(4)]))
    routed = all(s.metainfo['pred_text'].count('[CNT]') == 6 for s in predicted)
    truth = [c for s in predicted for c in s.metainfo['gt_counts'].values()]
    guess = sorted(truth)[len(truth) // 2]  # the one count closest to all, in absolute error
    if routed:
        errors = [
            abs(s.metainfo['pred_count_values'][n] - c) for s in predicted
            for n, c in s.metainfo['gt_counts'].items()
        ]
    report_figures(
        loss_ratio=history[-1]['loss_count_count'] / history[0]['loss_count_count'],
        routed=routed,
        count_error=sum(errors) / len(errors) if routed else float('nan'),
        constant_guess_error=sum(abs(c - guess) for c in truth) / len(truth))
    assert history[-1]['loss_count_count'] < 0.3 * history[0]['loss_count_count']
    for sample in predicted:
        meta = sample.metainfo
        assert meta['pred_text'].count('[CNT]') == 6, meta['pred_text']
        assert set(meta['pred_counts']) == set(meta['gt_counts'])
    assert sum(errors) / len(errors) < 0.55
