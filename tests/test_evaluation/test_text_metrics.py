"""Known answers of the VQA accuracy, the answer normalisation and the caption metric."""
import pytest

from mmvisionllm.evaluation.metrics import (CaptionMetric, VQAAccuracy, normalize_vqa_answer,
                                            vqa_accuracy)


@pytest.mark.parametrize('raw,normalised', [
    ('Two.', '2'),
    ('The Red Circle', 'red circle'),
    ('yes!', 'yes'),
    ('dont know', "don't know"),
    ('3.5', '3.5'),
    ('left, of it', 'left of it'),
    ("Don't know", "don't know"),
    ('10:30', '10:30'),
])
def test_normalize_vqa_answer(raw, normalised):
    assert normalize_vqa_answer(raw) == normalised


def test_vqa_accuracy_counts_humans():
    humans = ['2'] * 3 + ['3'] * 7
    # every leave-one-out subset with 3 matches scores 1; those that drop a '2' have 2 matches → 2/3
    assert vqa_accuracy('two', humans) == pytest.approx((7 * 1 + 3 * 2 / 3) / 10)
    assert vqa_accuracy('3', humans) == pytest.approx(1.0)
    assert vqa_accuracy('4', humans) == 0.0
    assert vqa_accuracy('red', ['red']) == 1.0
    # a contraction typed without its apostrophe meets the human answers that have it
    assert vqa_accuracy('dont', ["don't"] * 10) == 1.0
    assert vqa_accuracy("don't", ['dont'] * 10) == 1.0
    with pytest.raises(ValueError):
        vqa_accuracy('red', [])


def test_vqa_metric_perfect_and_wrong():
    metric = VQAAccuracy()
    metric.process({}, [
        dict(pred_text='Yes', gt_answers=['yes'] * 10),
        dict(pred_text='blue', gt_answers=['red'] * 10)
    ])
    assert metric.evaluate(2) == {'vqa/accuracy': 0.5}
    with pytest.raises(KeyError, match='sample 7 has no `pred_text`'):
        metric.process({}, [dict(question_id=7, gt_answers=['yes'])])


def test_vqa_metric_per_answer_type():
    metric = VQAAccuracy()
    metric.process({}, [
        dict(pred_text='yes', gt_answers=['yes'] * 10, answer_type='yes/no'),
        dict(pred_text='no', gt_answers=['yes'] * 10, answer_type='yes/no'),
        dict(pred_text='3', gt_answers=['3'] * 10, answer_type='number'),
        dict(pred_text='red', gt_answers=['red'] * 10)
    ])
    assert metric.evaluate(4) == {
        'vqa/accuracy': 0.75,
        'vqa/accuracy_number': 1.0,
        'vqa/accuracy_yes/no': 0.5
    }


def test_caption_metric_prefers_right_captions():
    refs = {
        0: ['a red circle and a blue square', 'a blue square and a red circle'],
        1: ['a green star above a yellow triangle'],
        2: ['two purple circles']
    }

    def score(preds):
        metric = CaptionMetric()
        metric.process({}, [dict(pred_text=preds[i], gt_captions=refs[i], img_id=i) for i in refs])
        return metric.evaluate(len(refs))

    perfect = score({i: r[0] for i, r in refs.items()})
    shuffled = score({0: refs[1][0], 1: refs[2][0], 2: refs[0][0]})
    assert perfect['caption/bleu4'] == pytest.approx(1.0, abs=1e-6)
    assert perfect['caption/cider'] > 1.0
    assert shuffled['caption/cider'] < 0.2 * perfect['caption/cider']
    assert shuffled['caption/bleu4'] < 0.1


def test_caption_metric_shuffled_references_expose_image_blind_captions():
    refs = [['a red circle and a blue square'], ['a green star above a yellow triangle'],
            ['two purple circles'], ['a small red cross']]

    def score(preds):
        metric = CaptionMetric(shuffled_references=True)
        metric.process({}, [
            dict(pred_text=p, gt_captions=r, img_id=i) for i, (p, r) in enumerate(zip(preds, refs))
        ])
        return metric.evaluate(len(refs))

    right = score([r[0] for r in refs])
    # caption i scored against the references of image i + 1 (the last against the first)
    rolled = score([refs[(i - 1) % len(refs)][0] for i in range(len(refs))])
    assert right['caption/cider_shuffled'] == pytest.approx(rolled['caption/cider'])
    assert right['caption/bleu4_shuffled'] == pytest.approx(rolled['caption/bleu4'])
    assert right['caption/cider'] > 5 * right['caption/cider_shuffled']
    constant = score(['a red circle'] * len(refs))  # image-blind: the same both ways
    assert constant['caption/cider'] == pytest.approx(constant['caption/cider_shuffled'])
    assert constant['caption/bleu4'] == pytest.approx(constant['caption/bleu4_shuffled'])
    assert 'caption/cider_shuffled' not in CaptionMetric().compute_metrics(
        [('a red circle', ['a red circle'])] * 2)
    with pytest.raises(ValueError, match='at least 2 samples'):
        CaptionMetric(shuffled_references=True).compute_metrics([('a', ['a'])])
