"""DistinctRandomSamplingNegPos: mmdet's grounding captions of detection samples, each class named
once, every box's class name at its tokens_positive, within the text encoder's max_tokens."""
import random
import warnings

import numpy as np
import pytest
import torch

from mmvisionllm.datasets.transforms import DistinctRandomSamplingNegPos
from mmvisionllm.models.language_models import build_tiny_text_encoder

LABEL_MAP = {
    '0': 'person',
    '1': 'circle',
    '2': 'square',
    '3': 'triangle',
    '4': 'star',
    '5': 'cross'
}


@pytest.fixture(scope='module')
def text_encoder(shapesworld_root, tmp_path_factory) -> str:
    return build_tiny_text_encoder(
        str(tmp_path_factory.mktemp('text_encoder')), str(shapesworld_root / 'tokenizer'))


def detection_sample(labels):
    boxes = torch.arange(len(labels) * 4, dtype=torch.float32).view(-1, 4)
    return dict(gt_bboxes=boxes, gt_bboxes_labels=np.array(labels), text=LABEL_MAP)


def test_each_class_once_and_every_box_at_its_name(text_encoder):
    sampler = DistinctRandomSamplingNegPos(text_encoder, num_sample_negative=6, max_tokens=32)
    random.seed(0)
    np.random.seed(0)
    sizes = set()
    for _ in range(100):
        labels = [1, 2, 1, 0]
        out = sampler.transform(detection_sample(labels))
        names = out['text'][:-2].split('. ')
        assert len(names) == len(set(names)) and set(names) <= set(LABEL_MAP.values())
        assert {'circle', 'square', 'person'} <= set(names)
        sizes.add(len(names))
        for box, label in zip(out['gt_bboxes'], out['gt_bboxes_labels']):
            [(start, end)] = out['tokens_positive'][int(label)]
            original = labels[int(box[0]) // 4]
            assert out['text'][start:end] == LABEL_MAP[str(original)]
        assert sorted(out['tokens_positive']) == sorted(set(out['gt_bboxes_labels'].tolist()))
    assert sizes == {3, 4, 5, 6}  # the positives plus 0 to 3 of the other classes
    assert LABEL_MAP['1'] == 'circle'


def test_captions_fit_max_tokens_with_the_special_tokens(text_encoder):
    sampler = DistinctRandomSamplingNegPos(text_encoder, num_sample_negative=6, max_tokens=8)
    random.seed(1)
    np.random.seed(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        out = sampler.transform(detection_sample([0, 1, 2, 3]))
    # [CLS] + 3 x (name, '.') + [SEP] = 8: one class does not fit and its box is left out
    assert len(sampler.tokenizer(out['text'])['input_ids']) == 8
    assert len(out['gt_bboxes']) == len(out['gt_bboxes_labels']) == 3
    assert any('1 boxes left out' in str(w.message) for w in caught)


def test_alternative_names_are_picked_without_changing_the_label_map(text_encoder):
    sampler = DistinctRandomSamplingNegPos(text_encoder, num_sample_negative=0, max_tokens=32)
    label_map = {'0': 'person/people', '1': 'circle'}
    random.seed(0)
    captions = set()
    for _ in range(20):
        sample = dict(gt_bboxes=torch.zeros(1, 4), gt_bboxes_labels=np.array([0]), text=label_map)
        captions.add(sampler.transform(sample)['text'])
    assert captions == {'person. ', 'people. '}  # no negatives with num_sample_negative=0
    assert label_map == {'0': 'person/people', '1': 'circle'}


def test_grounding_samples_keep_mmdet_behaviour(text_encoder):
    sampler = DistinctRandomSamplingNegPos(text_encoder, max_tokens=32)
    sample = dict(
        gt_bboxes=torch.zeros(1, 4),
        gt_bboxes_labels=np.array([0]),
        text='the red circle',
        phrases={0: dict(phrase='the red circle', tokens_positive=[[0, 14]])})
    out = sampler.transform(sample)
    assert out['text'] == 'the red circle. ' and out['tokens_positive'] == {0: [[0, 14]]}
