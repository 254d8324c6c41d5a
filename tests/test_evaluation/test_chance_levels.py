"""Known answers of the chance-level estimates used by the demo report."""
import json

import pytest

from mmvisionllm.evaluation.chance_levels import (constant_caption_scores,
                                                  rec_random_object_precision, vqa_prior_scores)


def _write(path, content) -> str:
    path.write_text(json.dumps(content))
    return str(path)


def _vqa(qtype: str, answer: str, qid: int) -> dict:
    answer_type = 'number' if qtype == 'how many' else 'other'
    return dict(question_id=qid, question_type=qtype, multiple_choice_answer=answer,
                answer_type=answer_type,
                answers=[dict(answer=answer, answer_id=i) for i in range(10)])


def test_vqa_prior_answers_the_majority_of_each_question(tmp_path):
    questions = {1: 'what color is the circle?', 2: 'what color is the circle?',
                 3: 'what color is the star?', 4: 'how many stars are there?'}
    train_q = _write(tmp_path / 'train_q.json', dict(questions=[
        dict(question_id=k, question=v) for k, v in questions.items()]))
    train = _write(tmp_path / 'train.json', dict(annotations=[
        _vqa('what color', 'red', 1), _vqa('what color', 'red', 2), _vqa('what color', 'blue', 3),
        _vqa('how many', '2', 4)]))
    val_q = _write(tmp_path / 'val_q.json', dict(questions=[
        dict(question_id=5, question='what color is the star?'),
        dict(question_id=6, question='what color is the square?'),
        dict(question_id=7, question='how many stars are there?'),
        dict(question_id=8, question='is there a cross?')]))
    val = _write(tmp_path / 'val.json', dict(annotations=[
        _vqa('what color', 'blue', 5),  # by question text: blue (right)
        _vqa('what color', 'blue', 6),  # unseen text, by type: red (wrong)
        _vqa('how many', '2', 7),  # right
        _vqa('is there', 'yes', 8)]))  # unseen type: overall majority red (wrong)
    assert vqa_prior_scores(train_q, train, val_q, val) == pytest.approx(
        dict(accuracy=2 / 4, accuracy_number=1.0, accuracy_other=1 / 3))
    # on the evaluated subset only
    assert vqa_prior_scores(train_q, train, val_q, val, question_ids=[5, 7])['accuracy'] == 1.0
    assert vqa_prior_scores(train_q, train, val_q, val, question_ids=[6])['accuracy'] == 0.0
    with pytest.raises(ValueError, match='no answer of question'):
        vqa_prior_scores(train_q, train, val_q, val, question_ids=[5, 99])


def test_rec_random_object_precision(tmp_path):
    instances = _write(tmp_path / 'inst.json', dict(annotations=[
        dict(image_id=7, bbox=[0, 0, 10, 10]), dict(image_id=7, bbox=[50, 50, 10, 10]),
        dict(image_id=7, bbox=[1, 1, 10, 10]), dict(image_id=8, bbox=[0, 0, 4, 4])]))
    refexp = _write(tmp_path / 'ref.json', dict(
        images=[dict(id=0, original_img_id=7), dict(id=1, original_img_id=8)],
        annotations=[dict(id=0, image_id=0, bbox=[0, 0, 10, 10]),
                     dict(id=1, image_id=1, bbox=[0, 0, 4, 4])]))
    # image 7: two of its three objects overlap the referent with IoU >= 0.5; image 8: its only one
    assert rec_random_object_precision(refexp, instances) == pytest.approx((2 / 3 + 1) / 2)
    assert rec_random_object_precision(refexp, instances,
                                       expression_ids={0}) == pytest.approx(2 / 3)


def test_constant_caption_matches_identical_references(tmp_path):
    caption = 'a large red circle left of a small blue star'
    train = _write(tmp_path / 'train.json', dict(annotations=[
        dict(image_id=0, caption=caption), dict(image_id=1, caption=caption),
        dict(image_id=2, caption='a green square')]))
    val = _write(tmp_path / 'val.json', dict(annotations=[
        dict(image_id=3, caption=caption), dict(image_id=4, caption=caption)]))
    assert constant_caption_scores(train, val)['bleu4'] == pytest.approx(1.0, abs=1e-6)
    other = _write(tmp_path / 'other.json', dict(annotations=[
        dict(image_id=3, caption='two yellow crosses above a purple triangle')]))
    assert constant_caption_scores(train, other)['bleu4'] < 0.1
    mixed = _write(tmp_path / 'mixed.json', dict(annotations=[
        dict(image_id=3, caption=caption), dict(image_id=4, caption='a green square')]))
    assert constant_caption_scores(train, mixed, image_ids=[3])['bleu4'] == pytest.approx(
        1.0, abs=1e-6)
    with pytest.raises(ValueError, match='no caption of image'):
        constant_caption_scores(train, mixed, image_ids=[3, 5])
