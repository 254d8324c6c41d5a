# ShapesWorld for mmdet's Grounding DINO: training on ODVG files (detection as class-name captions,
# referring expressions as grounding captions) with mmdet's ODVGDataset and RandomSamplingNegPos,
# testing detection on the COCO instances (class names as the caption). The ODVG files and the text
# encoder are derived from the generated set (run again after `make data` regenerates it):
#   python tools/dataset_converters/to_odvg.py od $ROOT/annotations/instances_train.json \
#       $ROOT/odvg/instances_train_od.jsonl --label-map $ROOT/odvg/instances_label_map.json
#   python tools/dataset_converters/to_odvg.py vg $ROOT/annotations/refexp_train.json \
#       $ROOT/odvg/refexp_train_vg.jsonl
#   python tools/misc/make_tiny_text_encoder.py $ROOT/text_encoder --tokenizer $ROOT/tokenizer
# `_scope_='mmdet'` makes each dataset and its pipeline resolve in mmdet's registries.
data_root = '{{$SHAPESWORLD_ROOT:data/shapesworld/}}'  # SHAPESWORLD_ROOT=DIR/ moves it
# The text encoder (model and tokenizer, `save_pretrained` layout): the tiny random-init BERT of
# tools/misc/make_tiny_text_encoder.py. The real build points this at a local bert-base-uncased
# folder (and the model's max_tokens/max_text_len at 256, as mmdet's Grounding DINO configs do).
text_encoder = data_root + 'text_encoder'
# most tokens of a caption: the text encoder's max_tokens = the contrastive head's max_text_len
# (det_max_targets of configs/_base_/models/decoders/det_tiny.py)
text_max_tokens = 32
label_map_file = 'odvg/instances_label_map.json'
backend_args = None
metainfo = dict(
    classes=('person', 'circle', 'square', 'triangle', 'star', 'cross'),
    palette=[(220, 20, 60), (0, 128, 255), (0, 170, 0), (255, 140, 0), (160, 32, 240),
             (128, 128, 128)])

# no flip: the expressions say left and right
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    # a caption per sample: the positive class names with up to all 6 negatives (OD), or the
    # expression itself (VG); `tokens_positive` locate each box's phrase in it. mmdet's
    # RandomSamplingNegPos with its detection branch fixed (negatives that are not positives, no
    # np.long: mmvisionllm/datasets/transforms/grounding_captions.py)
    dict(
        type='mmvisionllm.DistinctRandomSamplingNegPos',
        tokenizer_name=text_encoder,
        num_sample_negative=len(metainfo['classes']),
        max_tokens=text_max_tokens,
        label_map_file=data_root + label_map_file),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                   'flip_direction', 'text', 'custom_entities', 'tokens_positive', 'dataset_mode'))
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'text',
                   'custom_entities', 'tokens_positive'))
]

shapesworld_odvg_od_train = dict(
    type='ODVGDataset',
    _scope_='mmdet',
    data_root=data_root,
    ann_file='odvg/instances_train_od.jsonl',
    label_map_file=label_map_file,
    data_prefix=dict(img='images/train/'),
    filter_cfg=dict(filter_empty_gt=False),
    return_classes=True,
    pipeline=train_pipeline,
    backend_args=backend_args)
shapesworld_odvg_vg_train = dict(
    type='ODVGDataset',
    _scope_='mmdet',
    data_root=data_root,
    ann_file='odvg/refexp_train_vg.jsonl',
    data_prefix=dict(img='images/train/'),
    filter_cfg=dict(filter_empty_gt=False),
    return_classes=True,
    pipeline=train_pipeline,
    backend_args=backend_args)
# detection test: the class names as the caption (return_classes: `text` and `custom_entities`)
shapesworld_det_val = dict(
    type='CocoDataset',
    _scope_='mmdet',
    data_root=data_root,
    metainfo=metainfo,
    ann_file='annotations/instances_val.json',
    data_prefix=dict(img='images/val/'),
    test_mode=True,
    return_classes=True,
    pipeline=test_pipeline,
    backend_args=backend_args)
# referring-expression test: one sample per expression, the expression as the caption
shapesworld_rec_val = dict(
    type='MDETRStyleRefCocoDataset',
    _scope_='mmdet',
    data_root=data_root,
    ann_file='annotations/refexp_val.json',
    data_prefix=dict(img='images/val/'),
    test_mode=True,
    return_classes=True,
    pipeline=test_pipeline,
    backend_args=backend_args)

# every training sample carries a caption and tokens_positive, so a batch may mix the two
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='mmdet.AspectRatioBatchSampler'),
    dataset=dict(
        type='ConcatDataset', datasets=[shapesworld_odvg_od_train, shapesworld_odvg_vg_train]))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=shapesworld_det_val)
test_dataloader = val_dataloader

val_evaluator = dict(
    type='mmdet.CocoMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
