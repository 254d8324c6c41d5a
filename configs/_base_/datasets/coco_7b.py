# The real-data sets of the 7B stage configs (variables only, so that it combines with other bases).
# Local files (no download at run time):
#   data/coco/{train2017,val2017,train2014,val2014}/, data/coco/annotations/{instances,person_keypoints}_
#       {train,val}2017.json, data/coco/mdetr_annotations/final_refexp_{train,val}.json (MDETR)
#   data/vqav2/v2_{OpenEnded_mscoco_{train,val}2014_questions,mscoco_{train,val}2014_annotations}.json
#   data/llava/llava_v1_5_mix665k.json (stage 1b / 2 conversations) and
#   data/llava/blip_laion_cc_sbu_558k.json (stage 1a captions), images under data/llava/
# CLIP view: up to 4 tiles of 336 px plus the global thumbnail; decoder view: mmdet's 1333x800.
coco_root = 'data/coco/'
coco_clip_view = dict(type='DynamicTiling', tile_size=336, max_tiles=4)
coco_decoder_view = dict(type='ResizeWithKeypoints', scale=(1333, 800), keep_ratio=True)
coco_load_image = dict(type='LoadImageFromFile')
coco_pack = dict(type='PackMultimodalInputs')


def _boxes(with_mask=False, with_keypoints=False):
    return dict(
        type='LoadMultimodalAnnotations',
        with_bbox=True,
        with_mask=with_mask,
        with_keypoints=with_keypoints)


def _instances(task, split, with_mask):
    return dict(
        type='CocoInstanceConversationDataset',
        task=task,
        dataset_name='coco',
        data_root=coco_root,
        ann_file=f'annotations/instances_{split}2017.json',
        data_prefix=dict(img=f'{split}2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32) if split == 'train' else None,
        test_mode=split != 'train',
        pipeline=[coco_load_image, coco_clip_view,
                  _boxes(with_mask), coco_decoder_view, coco_pack])


def _refcoco(split):
    return dict(
        type='RefExpConversationDataset',
        task='grd',
        dataset_name='refcoco',
        data_root=coco_root,
        ann_file=f'mdetr_annotations/final_refexp_{split}.json',
        data_prefix=dict(img='train2014/'),
        test_mode=split != 'train',
        pipeline=[coco_load_image, coco_clip_view,
                  _boxes(), coco_decoder_view, coco_pack])


def _pose(split):
    return dict(
        type='CocoPoseConversationDataset',
        task='pose',
        dataset_name='coco',
        data_root=coco_root,
        ann_file=f'annotations/person_keypoints_{split}2017.json',
        data_prefix=dict(img=f'{split}2017/'),
        # mmpose's COCO keypoint metainfo (names, skeleton, sigmas), found in its package
        metainfo=dict(classes=('person', ), from_file='configs/_base_/datasets/coco.py'),
        test_mode=split != 'train',
        pipeline=[
            coco_load_image, coco_clip_view,
            _boxes(with_keypoints=True), coco_decoder_view, coco_pack
        ])


def _vqav2(split):
    return dict(
        type='VQAv2ConversationDataset',
        task='vqa',
        dataset_name='vqav2',
        data_root='data/',
        ann_file=f'vqav2/v2_OpenEnded_mscoco_{split}2014_questions.json',
        answer_file=f'vqav2/v2_mscoco_{split}2014_annotations.json',
        img_name_template=f'COCO_{split}2014_{{image_id:012d}}.jpg',
        data_prefix=dict(img=f'coco/{split}2014/'),
        test_mode=split != 'train',
        pipeline=[coco_load_image, coco_clip_view, coco_decoder_view, coco_pack])


def _llava(ann_file):
    return dict(
        type='LlavaConversationDataset',
        task='chat',
        dataset_name='llava',
        data_root='data/llava/',
        ann_file=ann_file,
        data_prefix=dict(img=''),
        pipeline=[coco_load_image, coco_clip_view, coco_decoder_view, coco_pack])


coco_det_train = _instances('det', 'train', with_mask=False)
coco_seg_train = _instances('seg', 'train', with_mask=True)
refcoco_grd_train = _refcoco('train')
coco_pose_train = _pose('train')
vqav2_train = _vqav2('train')
llava_mix_train = _llava('llava_v1_5_mix665k.json')  # LLaVA-1.5 instruction mix
llava_caption_train = _llava('blip_laion_cc_sbu_558k.json')  # LLaVA-1.5 pre-training captions

coco_det_val = _instances('det', 'val', with_mask=False)
coco_seg_val = _instances('seg', 'val', with_mask=True)
refcoco_grd_val = _refcoco('val')
coco_pose_val = _pose('val')

coco_det_metric = dict(
    type='TaskFilteredMetric',
    tasks='det',
    metric=dict(
        type='mmdet.CocoMetric',
        ann_file=coco_root + 'annotations/instances_val2017.json',
        metric='bbox'))
coco_seg_metric = dict(
    type='TaskFilteredMetric',
    tasks='seg',
    metric=dict(
        type='mmdet.CocoMetric',
        ann_file=coco_root + 'annotations/instances_val2017.json',
        metric=['bbox', 'segm']))
refcoco_grd_metric = dict(
    type='TaskFilteredMetric',
    tasks='grd',
    metric=dict(
        type='mmdet.RefExpMetric',
        ann_file=coco_root + 'mdetr_annotations/final_refexp_val.json',
        metric='bbox',
        topk=(1, 5, 10)))
coco_pose_metric = dict(
    type='TaskFilteredMetric',
    tasks='pose',
    metric=dict(
        type='mmpose.CocoMetric', ann_file=coco_root + 'annotations/person_keypoints_val2017.json'))
# Region-level conversations for stage 1 (LLaVA json whose questions hold <region> prompts with
# their boxes/masks, as ShapesWorld's region_*.json; e.g. a conversion of RefCOCOg region captions)
region_caption_train = dict(
    type='LlavaConversationDataset',
    task='region',
    dataset_name='coco_regions',
    data_root=coco_root,
    ann_file='annotations/region_captions_train2014.json',
    data_prefix=dict(img='train2014/'),
    pipeline=[
        coco_load_image, coco_clip_view,
        dict(type='LoadRegionPrompts'), coco_decoder_view, coco_pack
    ])
vqav2_val = _vqav2('val')
vqav2_metric = dict(type='TaskFilteredMetric', tasks='vqa', metric=dict(type='VQAAccuracy'))
