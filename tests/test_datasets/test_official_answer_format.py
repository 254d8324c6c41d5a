"""``answer_format='official'``: the official release's evaluation phrasings (known examples)."""
import json
import os.path as osp

import pytest

from mmvisionllm.datasets.official_formats import official_turns

FACTS = osp.join(
    osp.dirname(osp.dirname(__file__)), 'data', 'official',
    'official_visionllmv2_7b_state_dict.json')
EMBS = '[EMB][EMB2][EMB3][EMB4]'


@pytest.fixture(scope='module')
def formats():
    with open(FACTS) as f:
        return json.load(f)['answer_formats']


def _without_queries(text):
    """The official example text minus its [EMB] placeholders (our tokenizer inserts them)."""
    return text.replace(EMBS, '').replace('[EMB]', '')


@pytest.mark.parametrize('task,key,kwargs', [
    ('det', 'detection', dict(target_names=['person', 'car', 'dog'], routing_token='[DET]')),
    ('seg', 'segmentation', dict(target_names=['wall', 'floor', 'ceiling'], routing_token='[SEG]')),
    ('grd', 'grounding', dict(text='man in red shirt', routing_token='[GRD]')),
    ('gen', 'gen', dict(text='a red bus parked by the sea', routing_token='[GEN]')),
    ('edit', 'edit', dict(text='make it snowy', routing_token='[EDIT]')),
])
def test_official_examples(formats, task, key, kwargs):
    question, answer = official_turns(task, **kwargs)
    example = formats[key]
    assert question == example['question_example'].replace('<image>\n', '')
    assert answer == _without_queries(example['answer_example'])


def test_official_pose_example(formats):
    keypoints = [
        'nose', 'left eye', 'right eye', 'left ear', 'right ear', 'left shoulder', 'right shoulder',
        'left elbow', 'right elbow', 'left wrist', 'right wrist', 'left hip', 'right hip',
        'left knee', 'right knee', 'left ankle', 'right ankle'
    ]
    question, answer = official_turns(
        'pose', target_names=['person'], routing_token='[POSE]', keypoint_names=keypoints)
    assert question == formats['pose']['question_example'].replace('<image>\n', '')
    assert answer == _without_queries(formats['pose']['answer_example'])


@pytest.mark.parametrize('task', ['det', 'grd', 'pose', 'gen', 'edit'])
def test_datasets_write_the_official_format(build_task_dataset, task):
    default = build_task_dataset(task, 'val')
    official = build_task_dataset(task, 'val', answer_format='official')
    sample = official[0]['data_samples']
    human, answer = sample.conversation[0]['value'], sample.conversation[-1]['value']
    assert sample.target_names == default[0]['data_samples'].target_names
    assert human.startswith('<image>\n') == (task != 'gen')
    if task == 'det':
        assert answer.startswith('Yes, here are the results for ')
        assert all(f'{name}[DET]' in answer for name in sample.target_names)
    elif task == 'grd':
        assert answer == 'Yes, it is [GRD].'
    elif task == 'pose':  # the object class through [DET], the keypoint names through [POSE]
        category, *keypoints = sample.target_names
        assert f'{category}[DET] in the image.' in answer
        assert answer.count('[POSE]') == len(keypoints)
    else:
        assert answer == f'Here it is {"[GEN]" if task == "gen" else "[EDIT]"}.'


def test_unknown_format_is_rejected(build_task_dataset):
    with pytest.raises(ValueError, match='answer_format must be one of'):
        build_task_dataset('det', 'val', answer_format='llava')


def test_dynamic_tiling_pillow_backend_is_pil_bicubic():
    """backend='pillow' resizes as the official dynamic_preprocess (PIL bicubic)."""
    import numpy as np
    from PIL import Image

    from mmvisionllm.datasets.transforms import DynamicTiling
    rng = np.random.RandomState(0)
    image = rng.randint(0, 256, (90, 160, 3), dtype=np.uint8)
    tiles = DynamicTiling(tile_size=32, max_tiles=4, backend='pillow')(dict(img=image))
    assert tiles['clip_grid'] == (1, 2)
    pil = Image.fromarray(image)
    resized = np.asarray(pil.resize((64, 32), Image.BICUBIC))
    assert np.array_equal(tiles['clip_img'][0], resized[:, :32])
    assert np.array_equal(tiles['clip_img'][1], resized[:, 32:])
    assert np.array_equal(tiles['clip_img'][2], np.asarray(pil.resize((32, 32), Image.BICUBIC)))
    with pytest.raises(ValueError, match="backend must be 'cv2' or 'pillow'"):
        DynamicTiling(backend='skimage')
