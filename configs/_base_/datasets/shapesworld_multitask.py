# All ShapesWorld tasks in one loader. Every batch holds one decoder group only
# (TaskGroupedBatchSampler); group_ratios=None gives each group batches in proportion to its size.
# Evaluation mixes tasks too: wrap each metric in TaskFilteredMetric in the model config.
# Model configs inherit these loaders and replace `dataset.datasets` with the tasks they train.
_base_ = './shapesworld_tasks.py'

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='TaskGroupedBatchSampler', group_ratios=None),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MultiTaskDataset',
        datasets=[{{_base_.shapesworld_det_train}}, {{_base_.shapesworld_seg_train}},
                  {{_base_.shapesworld_grd_train}}, {{_base_.shapesworld_pose_train}},
                  {{_base_.shapesworld_vqa_train}}, {{_base_.shapesworld_caption_train}},
                  {{_base_.shapesworld_region_train}}, {{_base_.shapesworld_gen_train}},
                  {{_base_.shapesworld_edit_train}}]))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    batch_sampler=dict(type='TaskGroupedBatchSampler'),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MultiTaskDataset',
        datasets=[{{_base_.shapesworld_det_val}}, {{_base_.shapesworld_seg_val}},
                  {{_base_.shapesworld_grd_val}}, {{_base_.shapesworld_pose_val}},
                  {{_base_.shapesworld_vqa_val}}, {{_base_.shapesworld_caption_val}},
                  {{_base_.shapesworld_region_val}}, {{_base_.shapesworld_gen_val}},
                  {{_base_.shapesworld_edit_val}}]))
test_dataloader = val_dataloader
