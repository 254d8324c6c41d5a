# Stage 3 for a new task: object counting ("How many of each of these categories are there:
# circle, square?" -> "circle [CNT], square [CNT]", the [CNT] decoder counts) added to the trained
# demo generalist (configs/visionllmv2/visionllmv2_tiny_shapesworld.py) without a core edit.
# Start from its checkpoint:
#   PYTHONPATH=. python tools/train.py projects/object_counting/configs/<this file> \
#       --cfg-options load_from=work_dirs/demo/iter_1000.pth
# The checkpoint has no [CNT]: it is appended to the vocabulary, every old row is kept by token
# string, the new row is mean-initialised and the [CNT] query table and decoder start fresh (the
# log line "extending the checkpoint: ..." lists them). What trains (the paper's stage 3): the
# new decoder and its query table, and the LLM only through LoRA (r=8 on q/v, plus the rows of the
# special tokens, so that chat learns to emit [CNT]); every other component, decoder and query
# table is frozen.
_base_ = ['../../../configs/visionllmv2/visionllmv2_tiny_shapesworld.py']

custom_imports = dict(
    imports=['projects.object_counting.object_counting'], allow_failed_imports=False)

model = dict(
    llm=dict(
        lora=dict(
            _delete_=True,
            r=8,
            lora_alpha=16,
            lora_dropout=0.0,
            target_modules=['q_proj', 'v_proj'],
            train_new_tokens=True)),
    decoders=dict(count=dict(type='CountLinkDecoder', num_queries=4, feat_channels=64)),
    frozen_components=('vision_encoder', 'projector', 'region_encoder', 'decoders.det',
                       'decoders.pose', 'decoders.gen', 'decoders.edit',
                       'super_link.query_tables.det', 'super_link.query_tables.pose',
                       'super_link.query_tables.gen', 'super_link.query_tables.edit'))

sw_root = 'data/shapesworld/'
count_train = dict(
    type='CocoCountConversationDataset',
    task='count',
    dataset_name='shapesworld',
    data_root=sw_root,
    ann_file='annotations/instances_train.json',
    data_prefix=dict(img='images/train/'),
    metainfo={{_base_.shapesworld_metainfo}},
    max_targets=4,  # the present classes plus absent ones (count 0), up to 4 per question
    pipeline={{_base_.image_text_pipeline}})
count_val = dict(
    count_train,
    ann_file='annotations/instances_val.json',
    data_prefix=dict(img='images/val/'),
    max_targets=None,
    test_mode=True)
train_dataloader = dict(
    batch_sampler=dict(_delete_=True, type='TaskGroupedBatchSampler'),
    dataset=dict(
        _delete_=True,
        type='MultiTaskDataset',
        datasets=[count_train],
        transform_overrides={{_base_.clip_view_override}}))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiTaskDataset',
        datasets=[count_val],
        transform_overrides={{_base_.clip_view_override}}))
# accuracy / MAE beside the image-blind baseline (each class's most frequent training count)
test_evaluator = [
    dict(type='CountMetric', prior_ann_file=sw_root + 'annotations/instances_train.json')
]

optim_wrapper = dict(
    optimizer=dict(lr=1e-3), paramwise_cfg=dict(_delete_=True), clip_grad=dict(max_norm=1.0))
max_iters = 400
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=20, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
