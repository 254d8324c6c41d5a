"""The shipped 7B stage configs, pointed at tiny real-layout folders and a small ShapesWorld set.

What is kept from the stage config: the model (its CLIP tower and LLM built by path, LoRA, frozen
components, template, data preprocessor with ``max_length``), the optimizer wrapper
(``AnyDeviceAmpOptimWrapper``: bf16 autocast on this CPU), its constructor and ``paramwise_cfg``,
the ``AdapterCheckpointHook`` and the loops. What is swapped: the data (ShapesWorld det + VQA at
the tiny CLIP's tile size instead of COCO), the decoders (a toy decoder for [DET]/[SEG]/[GRD] in
place of Grounding DINO-T and UniPose-T, which the decoder tests cover), the schedule length.
"""
import copy
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIGS = osp.join(REPO_ROOT, 'configs', 'visionllmv2')
SW_TASKS = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', 'shapesworld_tasks.py')
TOY_DECODER = dict(
    type='ToyPointLinkDecoder', routing_tokens=('[DET]', '[SEG]', '[GRD]'), num_queries=4)


def _dataset(tasks: Config, name: str, data_root: str, tile_size: int) -> dict:
    dataset = copy.deepcopy(tasks[name].to_dict())
    dataset['data_root'] = data_root
    for step in dataset['pipeline']:
        if step['type'] == 'DynamicTiling':
            step.update(tile_size=tile_size, max_tiles=2)
    return dataset


def stage_config(config: str,
                 clip_dir: str,
                 llm_dir: str,
                 data_root: str,
                 work_dir: str,
                 max_iters: int = 2,
                 tile_size: int = 28,
                 decoders: Optional[dict] = None,
                 train_sets: Optional[Sequence[str]] = None,
                 group_ratios: Optional[dict] = None) -> Config:
    """``configs/visionllmv2/<config>`` on the tiny folders and ShapesWorld (see module doc);
    ``decoders`` / ``train_sets`` (ShapesWorld dataset variables) / ``group_ratios`` replace the
    toy decoder, the det + VQA data and their ratios."""
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    tasks = Config.fromfile(SW_TASKS)
    data_root = data_root.rstrip('/') + '/'
    cfg.model.vision_encoder.pretrained_path = clip_dir
    cfg.model.llm.pretrained_path = llm_dir
    cfg.model.max_new_tokens = 3
    has_decoders = bool(cfg.model.decoders)
    if has_decoders:
        cfg.model.decoders = decoders or dict(det=TOY_DECODER)
    names = ['shapesworld_det_train'] if has_decoders else ['shapesworld_region_train']
    names = list(train_sets or names + ['shapesworld_vqa_train'])
    loader = dict(
        batch_size=2,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=True),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(
            type='MultiTaskDataset',
            datasets=[_dataset(tasks, n, data_root, tile_size) for n in names]))
    if has_decoders:
        loader['batch_sampler'] = dict(
            type='TaskGroupedBatchSampler', group_ratios=group_ratios or dict(det=0.5, text=0.5))
    cfg.train_dataloader = loader
    cfg.val_dataloader = dict(
        batch_size=2,
        num_workers=0,
        persistent_workers=False,
        drop_last=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='pseudo_collate'),
        dataset=_dataset(tasks, 'shapesworld_vqa_val', data_root, tile_size))
    cfg.val_dataloader.dataset['indices'] = 2
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = dict(type='VQAAccuracy')
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10**6)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=max_iters)
    ]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.custom_imports = dict(imports=['toy_link_decoder'], allow_failed_imports=False)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=0)
    return cfg
