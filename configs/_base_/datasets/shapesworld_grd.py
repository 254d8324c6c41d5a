# ShapesWorld 'grd' task: dataloaders of the VisionLLM v2 conversation dataset + its unchanged metric.
_base_ = './shapesworld_tasks.py'

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset={{_base_.shapesworld_grd_train}})
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset={{_base_.shapesworld_grd_val}})
test_dataloader = val_dataloader
val_evaluator = {{_base_.shapesworld_grd_evaluator}}
test_evaluator = val_evaluator
