# The tiny generalist with its detection/segmentation/grounding decoder only, trained on ShapesWorld
# seg + det samples with fixed prompts (class names in dataset order, phrasing 0) and one 64 px CLIP
# tile per scene (tests/test_dist/test_ddp_cpu.py; ddp_tiny_det_seg.py adds the rest).
_base_ = [
    '../../../configs/_base_/models/visionllmv2_tiny.py',
    '../../../configs/_base_/models/decoders/det_tiny.py',
    '../../../configs/_base_/datasets/shapesworld_tasks.py',
    '../../../configs/_base_/default_runtime.py',
]
model = dict(decoders=dict(det={{_base_.det_decoder}}))
sw_train = dict(
    type='CocoInstanceConversationDataset',
    dataset_name='shapesworld',
    data_root='data/shapesworld/',
    ann_file='annotations/instances_train.json',
    data_prefix=dict(img='images/train/'),
    metainfo=dict(classes=('person', 'circle', 'square', 'triangle', 'star', 'cross')),
    shuffle_targets=False,
    max_targets=None,
    template_index=0)
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MultiTaskDataset',
        datasets=[
            dict(sw_train, task='seg', pipeline={{_base_.seg_pipeline}}),
            dict(sw_train, task='det', pipeline={{_base_.det_pipeline}})
        ],
        transform_overrides=dict(DynamicTiling=dict(max_tiles=1))))
