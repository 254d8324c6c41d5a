# The reduced official model (visionllmv2_official_reference_small.py) evaluated by tools/test.py on
# a COCO-format detection set: [DET] teacher-forced with the official answer format, mmdet's
# CocoMetric on the boxes. The CLIP view is the official dynamic_preprocess (Pillow, 336 px tiles).
# After converting the reference with tools/model_converters/visionllmv2_to_mmvisionllm.py
# (see docs/en/official_checkpoint.md):
#   VLV2_SD_TOKENIZER=.../stable-diffusion-v1-5-small/tokenizer python tools/test.py \
#       configs/visionllmv2/visionllmv2_official_reference_small_coco.py OUT/visionllmv2.pth \
#       --cfg-options model.llm.tokenizer_path=OUT/tokenizer
# The set defaults to ShapesWorld's COCO files (`make data`); another COCO-format set: set
# $VLV2_COCO_ROOT (with a trailing /) and override coco_classes / the ann_file / data_prefix.
_base_ = ['./visionllmv2_official_reference_small.py', '../_base_/default_runtime.py']

coco_root = '{{$VLV2_COCO_ROOT:data/shapesworld/}}'
coco_ann_file = 'annotations/instances_val.json'
coco_classes = ('person', 'circle', 'square', 'triangle', 'star', 'cross')
# the decoder view (GDINO input); the official COCO evaluation resizes to 800 x 1333
coco_decoder_scale = (1333, 800)

test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='CocoInstanceConversationDataset',
        task='det',
        dataset_name='coco',
        data_root=coco_root,
        ann_file=coco_ann_file,
        data_prefix=dict(img='images/val/'),
        metainfo=dict(classes=coco_classes),
        answer_format='official',
        test_mode=True,
        pipeline=[
            dict(type='LoadImageFromFile'), {{_base_.official_clip_tiling}},
            dict(type='LoadMultimodalAnnotations', with_bbox=True, with_mask=False),
            dict(type='ResizeWithKeypoints', scale=coco_decoder_scale, keep_ratio=True),
            dict(type='PackMultimodalInputs')
        ]))
test_evaluator = dict(type='mmdet.CocoMetric', ann_file=coco_root + coco_ann_file, metric='bbox')
test_cfg = dict(type='TestLoop')
