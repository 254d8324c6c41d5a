"""Known answers of the chance-level estimates used by the demo report."""
import json

import pytest

from mmvisionllm.evaluation.chance_levels import (constant_caption_scores,
                                                  rec_random_object_precision, vqa_prior_accuracy)


def _write(path, content) -> str:
    path.write_text(json.dumps(content))
    return str(path)


def _vqa(qtype: str, answer: str, qid: int) -> dict:
    return dict(question_id=qid, question_type=qtype, multiple_choice_answer=answer,
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
    assert vqa_prior_accuracy(train_q, train, val_q, val) == pytest.approx(2 / 4)


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
