"""The pose decoder plugged into the full tiny VisionLLMv2 on ShapesWorld keypoints.

Built from ``configs/visionllmv2/visionllmv2_tiny_pose_shapesworld.py`` (the core is not edited: the
decoder comes from the config), fed by the ShapesWorld pose dataset and scored by mmpose's
``CocoMetric`` with the dataset's own metainfo. A private ShapesWorld copy is generated so a
concurrent regeneration of ``data/`` cannot interfere.
"""
import copy
import json
import os.path as osp
from typing import List

import pytest
import torch
from learning_figures import report_figures
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmpose.evaluation.metrics import CocoMetric

from mmvisionllm.registry import DATASETS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(REPO, 'configs/visionllmv2/visionllmv2_tiny_pose_shapesworld.py')
BASELINE = osp.join(REPO, 'configs/baselines/pose_tiny_specialist_shapesworld.py')
NUM_KPTS = 13
# the whole model's keypoint AP after overfitting 8 images (margin: the test's docstring)
AP_BOUND = 0.8


@pytest.fixture(scope='module')
def shapesworld(tmp_path_factory) -> str:
    from mmvisionllm.datasets.shapesworld import generate_shapesworld
    root = str(tmp_path_factory.mktemp('shapesworld_pose'))
    generate_shapesworld(root, seed=0, num_train=40, num_val=4, overwrite=True, show_progress=False)
    return root


def _pose_items(config: str, data_root: str, num: int, tmp_path) -> tuple:
    """``num`` packed training samples with people, their dataset and a COCO json of just them."""
    cfg = Config.fromfile(config)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = data_root + '/'
    for transform in ds_cfg.pipeline:
        if transform['type'] == 'DynamicTiling':  # one 64 px tile keeps the CLIP side cheap
            transform['max_tiles'] = 1
    dataset = DATASETS.build(ds_cfg)
    indices = [i for i in range(len(dataset)) if dataset.get_data_info(i)['instances']][:num]
    assert len(indices) == num
    img_ids = {dataset.get_data_info(i)['img_id'] for i in indices}
    with open(osp.join(data_root, 'annotations/person_keypoints_train.json')) as f:
        coco = json.load(f)
    coco['images'] = [im for im in coco['images'] if im['id'] in img_ids]
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] in img_ids]
    ann_file = str(tmp_path / 'subset.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return cfg, dataset, [dataset[i] for i in indices], ann_file


def _build(cfg: Config, data_root: str):
    model_cfg = cfg.model.to_dict()
    if 'llm' in model_cfg:
        model_cfg['llm']['tokenizer_path'] = osp.join(data_root, 'tokenizer')
    return MODELS.build(model_cfg)


def _keypoint_ap(model, items: List[dict], dataset, ann_file: str) -> float:
    model.eval()
    with torch.no_grad():
        out = model.test_step(pseudo_collate(copy.deepcopy(items)))
    model.train()
    metric = CocoMetric(ann_file=ann_file)
    metric.dataset_meta = dataset.metainfo  # the dataset's mmpose metainfo: sigmas, K, ...
    metric.process([], [s.to_dict() for s in out])
    return metric.evaluate(len(out))['coco/AP']


def test_pose_decoder_in_visionllmv2_trains_through_the_llm(shapesworld, tmp_path):
    torch.manual_seed(0)
    cfg, dataset, items, ann_file = _pose_items(CONFIG, shapesworld, 2, tmp_path)
    model = _build(cfg, shapesworld)
    assert type(model.decoders['pose']).__name__ == 'UniPoseDecoder'
    assert model.decoders['pose'].in_channels == 256  # filled in from the tiny LLM
    assert items[0]['data_samples'].metainfo['target_names'][1:] == list(
        dataset.metainfo['keypoint_id2name'].values())

    data = model.data_preprocessor(pseudo_collate(copy.deepcopy(items)), True)
    losses = model(**data, mode='loss')
    pose = {k: v for k, v in losses.items() if k.startswith('loss_pose_')}
    assert {'loss_pose_cls', 'loss_pose_kpt', 'loss_pose_oks'} <= set(pose)
    sum(pose.values()).backward()
    # the pose losses alone reach the LLM and the [POSE] query table through the link embeddings
    llm_grad = [
        p.grad for n, p in model.named_parameters() if n.startswith('llm.') and p.grad is not None
    ]
    assert llm_grad and sum(float(g.abs().sum()) for g in llm_grad) > 0
    table_grad = [
        p.grad for n, p in model.named_parameters() if 'query_tables' in n and 'pose' in n
    ]
    assert table_grad and all(g is not None and float(g.abs().sum()) > 0 for g in table_grad)

    # predictions come back in mmpose format and mmpose's CocoMetric reads them unchanged
    ap = _keypoint_ap(model, items, dataset, ann_file)
    assert 0.0 <= ap <= 1.0


def test_pose_specialist_baseline_config_trains(shapesworld, tmp_path):
    torch.manual_seed(0)
    cfg, dataset, items, ann_file = _pose_items(BASELINE, shapesworld, 2, tmp_path)
    model = _build(cfg, shapesworld)
    assert type(model).__name__ == 'PoseSpecialist'
    assert model.link_inputs(1)['link_embeds'].shape == (1, 1 + NUM_KPTS, 4, 256)
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    log = model.train_step(pseudo_collate(copy.deepcopy(items)), optim)
    assert torch.isfinite(log['loss'])
    assert 0.0 <= _keypoint_ap(model, items, dataset, ann_file) <= 1.0


@pytest.mark.slow
@pytest.mark.timeout(5400)
def test_visionllmv2_overfits_8_shapesworld_images_to_keypoint_ap_0_8(shapesworld, tmp_path):
    """Known answer: the full model (LLM link embeddings → pose decoder) memorises 8 images.

    Measured on 2 shared CPU cores: ~6-9 s per step, AP 0.75-1.0 after 200 steps at lr 1e-3 (the
    run-to-run spread is large), so the learning rate drops ten-fold after 200 steps to settle the
    keypoints; about 30-45 minutes in all.

    Measured unloaded on an AMD EPYC (AVX-512) with ``tools/analysis_tools/learning_test_spread.py
    ... --settings t1 t1-no-mkldnn`` at ``f674e44``: ``t1`` reaches 0.917 only at its last check
    (400 steps, 400 s), oneDNN off 0.907 at 200 steps (199 s). 0.9 was too thin a bound for
    other kernels (``t1`` needed the whole schedule for it), so the bound is 0.8: a margin of at
    least 0.1 below what both settings reached, still far from the untrained model's 0.
    """
    torch.manual_seed(0)
    cfg, dataset, items, ann_file = _pose_items(CONFIG, shapesworld, 8, tmp_path)
    model = _build(cfg, shapesworld)
    optim = OptimWrapper(
        torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                          lr=1e-3,
                          weight_decay=1e-4),
        clip_grad=dict(max_norm=1.0))
    schedule = torch.optim.lr_scheduler.MultiStepLR(optim.optimizer, milestones=[200], gamma=0.1)
    model.train()
    ap_history = []
    for step in range(1, 401):
        model.train_step(pseudo_collate(copy.deepcopy(items)), optim)
        schedule.step()
        if step % 50 == 0 and step >= 150:
            ap_history.append(_keypoint_ap(model, items, dataset, ann_file))
            print(f'keypoint AP after {step} steps: {ap_history[-1]:.3f}')
            if ap_history[-1] >= AP_BOUND:
                break
    report_figures(keypoint_ap=ap_history[-1], steps=step)
    assert ap_history[-1] >= AP_BOUND, ap_history
