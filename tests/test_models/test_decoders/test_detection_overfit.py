"""The detection decoder alone learns: learnable link embeddings stand in for the LLM.

One embedding table row per class name (``[DET]``/``[SEG]`` targets) and per referring expression
(``[GRD]``), trained with the decoder on a few rendered scenes; mmdet's ``CocoMetric`` (bbox, segm)
and ``RefExpMetric`` score the predictions before and after. Runs on one thread: on the shared
2-core machine two threads are an order of magnitude slower under load.
"""
from contextlib import contextmanager
from typing import Dict, List

import pytest
import torch
from learning_figures import report_figures
from mmdet.evaluation import CocoMetric, RefExpMetric
from mmengine.evaluator import Evaluator
from test_detection_decoder import LLM_WIDTH, NUM_LINK_QUERIES, build_decoder
from test_detection_scenes import (CLASSES, det_sample, grd_sample, render_scenes, write_coco_json,
                                   write_refexp_json)
from torch import nn


@contextmanager
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class LinkTables(nn.Module):
    """Learnable link embeddings: N x C per class name and per referring expression."""

    def __init__(self, expressions: List[str]) -> None:
        super().__init__()
        self.expressions = {e: i for i, e in enumerate(expressions)}
        self.classes = nn.Parameter(torch.randn(len(CLASSES), NUM_LINK_QUERIES, LLM_WIDTH))
        self.refs = nn.Parameter(torch.randn(len(expressions), NUM_LINK_QUERIES, LLM_WIDTH))

    def batch(self, items: List[tuple]):
        """[B, T, N, C] embeddings and [B, T] mask for ('det', _) / ('grd', expression) items."""
        rows = [
            self.classes if kind == 'det' else self.refs[self.expressions[ref]][None]
            for kind, ref in items
        ]
        num_targets = max(len(r) for r in rows)
        embeds = torch.zeros(len(rows), num_targets, NUM_LINK_QUERIES, LLM_WIDTH)
        mask = torch.zeros(len(rows), num_targets, dtype=torch.bool)
        for i, row in enumerate(rows):
            embeds[i, :len(row)] = row
            mask[i, :len(row)] = True
        return embeds, mask


def evaluate(decoder, tables, scenes, refs, tmp_path) -> Dict[str, float]:
    decoder.eval()
    det = [det_sample(s, i, '[SEG]') for i, s in enumerate(scenes)]
    grd = [grd_sample(scene, obj, i) for i, (scene, obj) in enumerate(refs)]
    with torch.no_grad():
        embeds, mask = tables.batch([('det', None)] * len(det))
        decoder.predict(embeds, mask, [s['image'] for s in scenes], det)
        embeds, mask = tables.batch([('grd', scene['expressions'][obj]) for scene, obj in refs])
        decoder.predict(embeds, mask, [scene['image'] for scene, _ in refs], grd)
    coco = Evaluator(
        CocoMetric(
            ann_file=write_coco_json(scenes, str(tmp_path / 'inst.json')), metric=['bbox', 'segm']))
    coco.dataset_meta = dict(classes=CLASSES)
    coco.process(det)
    results = coco.evaluate(len(det))
    refexp = Evaluator(RefExpMetric(ann_file=write_refexp_json(refs, str(tmp_path / 'ref.json'))))
    refexp.process(grd)
    results.update(refexp.evaluate(len(grd)))
    decoder.train()
    return results


def overfit(num_scenes: int, size: int, iterations: int, tmp_path, seed: int = 0):
    torch.manual_seed(seed)
    scenes = render_scenes(num_scenes, size=size, seed=seed)
    refs = [(scene, obj) for scene in scenes for obj in range(len(scene['labels']))]
    decoder = build_decoder()
    tables = LinkTables([scene['expressions'][obj] for scene, obj in refs])
    before = evaluate(decoder, tables, scenes, refs, tmp_path)
    optimizer = torch.optim.AdamW(
        [dict(params=decoder.parameters(), lr=2e-4),
         dict(params=tables.parameters(), lr=2e-3)],
        weight_decay=1e-4)
    params = list(decoder.parameters()) + list(tables.parameters())
    decoder.train()
    for it in range(iterations):
        # a detection/segmentation sample and a grounding sample per scene: targets padded to 3
        index = it % num_scenes
        scene, obj = scenes[index], it // num_scenes % len(scenes[index]['labels'])
        token = '[SEG]' if it // num_scenes % 2 else '[DET]'
        samples = [det_sample(scene, index, token), grd_sample(scene, obj, index)]
        embeds, mask = tables.batch([('det', None), ('grd', scene['expressions'][obj])])
        losses = decoder.loss(embeds, mask, [scene['image']] * 2, samples)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        torch.nn.utils.clip_grad_norm_(params, 0.1)
        optimizer.step()
    after = evaluate(decoder, tables, scenes, refs, tmp_path)
    return before, after


def report_metrics(before: Dict[str, float], after: Dict[str, float]) -> None:
    report_figures(
        untrained_bbox_mAP=before['coco/bbox_mAP'],
        untrained_segm_mAP=before['coco/segm_mAP'],
        bbox_mAP=after['coco/bbox_mAP'],
        segm_mAP=after['coco/segm_mAP'],
        rec_p1=after['refexp/refcoco_precision@1'])


def test_decoder_learns_two_scenes(tmp_path):
    """Fast (~35 s): 2 small scenes, 100 steps; every metric starts at 0.

    The result depends on the CPU's math kernels, not only on the seed (their rounding differs and
    100 steps of training amplify it). Measured with seed 0 on one machine under the five kernel
    settings of ``tools/analysis_tools/learning_test_spread.py`` (1 and 2 threads, oneDNN off,
    ATen AVX2 and unvectorised; AVX-512 CPU; the test itself runs on one thread, so 1 and 2 agree):
    box AP 0.389-0.444, mask AP 0.673-0.724, grounding P@1 0.83-1.0; with seeds 1-4 (other scenes
    and init, measured at d92b914) box AP 0.365-0.906, mask AP 0.435-0.875, P@1 0.75-1.0. The
    thresholds sit below every one of these runs (box 0.25, mask 0.35, P@1 0.5): an untrained
    decoder scores 0 on each. ``python tools/analysis_tools/learning_test_spread.py tests/
    test_models/test_decoders/test_detection_overfit.py::test_decoder_learns_two_scenes``;
    docs/en/results.md.
    """
    with one_thread():
        before, after = overfit(num_scenes=2, size=64, iterations=100, tmp_path=tmp_path)
        report_metrics(before, after)
    assert before['coco/bbox_mAP'] < 0.1 and before['coco/segm_mAP'] < 0.1
    assert after['coco/bbox_mAP'] >= 0.25
    assert after['coco/segm_mAP'] >= 0.35
    assert after['refexp/refcoco_precision@1'] >= 0.5


@pytest.mark.slow
def test_decoder_overfits_four_scenes(tmp_path):
    """Slow (~3 min): 4 ShapesWorld-size scenes; boxes, masks and referring boxes all learned.

    Measured unloaded on an AMD EPYC (AVX-512) at ``f674e44`` with
    ``tools/analysis_tools/learning_test_spread.py ... --settings t1 t1-no-mkldnn`` (119 s /
    129 s): box AP 0.890 / 0.891 (bound 0.8), mask AP 0.975 / 0.983 (bound 0.7), P@1 1.0 / 1.0;
    untrained 0 / 0.
    """
    with one_thread():
        before, after = overfit(num_scenes=4, size=128, iterations=400, tmp_path=tmp_path)
        report_metrics(before, after)
    assert before['coco/bbox_mAP'] < 0.1 and before['coco/segm_mAP'] < 0.1
    assert after['coco/bbox_mAP'] >= 0.8
    assert after['coco/segm_mAP'] >= 0.7
    assert after['refexp/refcoco_precision@1'] == 1.0
