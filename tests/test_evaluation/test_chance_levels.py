"""Known answers of the chance-level estimates used by the demo report."""
import json

import pytest

from mmvisionllm.evaluation.chance_levels import (best_constant_caption_scores,
                                                  rec_random_object_precision, vqa_prior_scores)


def _write(path, content) -> str:
    path.write_text(json.dumps(content))
    return str(path)


def _vqa(qtype: str, answer: str, qid: int) -> dict:
    answer_type = 'number' if qtype == 'how many' else 'other'
    return dict(
        question_id=qid,
        question_type=qtype,
        multiple_choice_answer=answer,
        answer_type=answer_type,
        answers=[dict(answer=answer, answer_id=i) for i in range(10)])


def test_vqa_prior_answers_the_majority_of_each_question(tmp_path):
    questions = {
        1: 'what color is the circle?',
        2: 'what color is the circle?',
        3: 'what color is the star?',
        4: 'how many stars are there?'
    }
    train_q = _write(
        tmp_path / 'train_q.json',
        dict(questions=[dict(question_id=k, question=v) for k, v in questions.items()]))
    train = _write(
        tmp_path / 'train.json',
        dict(annotations=[
            _vqa('what color', 'red', 1),
            _vqa('what color', 'red', 2),
            _vqa('what color', 'blue', 3),
            _vqa('how many', '2', 4)
        ]))
    val_q = _write(
        tmp_path / 'val_q.json',
        dict(questions=[
            dict(question_id=5, question='what color is the star?'),
            dict(question_id=6, question='what color is the square?'),
            dict(question_id=7, question='how many stars are there?'),
            dict(question_id=8, question='is there a cross?')
        ]))
    val = _write(
        tmp_path / 'val.json',
        dict(annotations=[
            _vqa('what color', 'blue', 5),  # by question text: blue (right)
            _vqa('what color', 'blue', 6),  # unseen text, by type: red (wrong)
            _vqa('how many', '2', 7),  # right
            _vqa('is there', 'yes', 8)
        ]))  # unseen type: overall majority red (wrong)
    assert vqa_prior_scores(train_q, train, val_q, val) == pytest.approx(
        dict(accuracy=2 / 4, accuracy_number=1.0, accuracy_other=1 / 3))
    # on the evaluated subset only
    assert vqa_prior_scores(train_q, train, val_q, val, question_ids=[5, 7])['accuracy'] == 1.0
    assert vqa_prior_scores(train_q, train, val_q, val, question_ids=[6])['accuracy'] == 0.0
    with pytest.raises(ValueError, match='no answer of question'):
        vqa_prior_scores(train_q, train, val_q, val, question_ids=[5, 99])
    # by question type: red for every colour question, 2 for counting, red (overall) for 'is there'
    assert vqa_prior_scores(
        train_q, train, val_q, val, by='question_type') == pytest.approx(
            dict(accuracy=1 / 4, accuracy_number=1.0, accuracy_other=0.0))
    with pytest.raises(ValueError, match="by must be 'question' or 'question_type'"):
        vqa_prior_scores(train_q, train, val_q, val, by='answer')


def test_rec_random_object_precision(tmp_path):
    instances = _write(
        tmp_path / 'inst.json',
        dict(annotations=[
            dict(image_id=7, bbox=[0, 0, 10, 10]),
            dict(image_id=7, bbox=[50, 50, 10, 10]),
            dict(image_id=7, bbox=[1, 1, 10, 10]),
            dict(image_id=8, bbox=[0, 0, 4, 4])
        ]))
    refexp = _write(
        tmp_path / 'ref.json',
        dict(
            images=[dict(id=0, original_img_id=7),
                    dict(id=1, original_img_id=8)],
            annotations=[
                dict(id=0, image_id=0, bbox=[0, 0, 10, 10]),
                dict(id=1, image_id=1, bbox=[0, 0, 4, 4])
            ]))
    # image 7: two of its three objects overlap the referent with IoU >= 0.5; image 8: its only one
    assert rec_random_object_precision(refexp, instances) == pytest.approx((2 / 3 + 1) / 2)
    assert rec_random_object_precision(
        refexp, instances, expression_ids={0}) == pytest.approx(2 / 3)


def test_best_constant_caption_matches_identical_references(tmp_path):
    caption = 'a large red circle left of a small blue star'
    train = _write(
        tmp_path / 'train.json',
        dict(annotations=[
            dict(image_id=0, caption=caption),
            dict(image_id=1, caption=caption),
            dict(image_id=2, caption='a green square')
        ]))
    val = _write(
        tmp_path / 'val.json',
        dict(annotations=[dict(image_id=3, caption=caption),
                          dict(image_id=4, caption=caption)]))
    scores = best_constant_caption_scores(train, val)
    assert scores['bleu4'] == pytest.approx(1.0, abs=1e-6)
    assert scores['bleu4_caption'] == scores['cider_caption'] == caption
    other = _write(
        tmp_path / 'other.json',
        dict(annotations=[dict(image_id=3, caption='two yellow crosses above a purple triangle')]))
    assert best_constant_caption_scores(train, other)['bleu4'] < 0.1
    mixed = _write(
        tmp_path / 'mixed.json',
        dict(annotations=[
            dict(image_id=3, caption=caption),
            dict(image_id=4, caption='a green square')
        ]))
    assert best_constant_caption_scores(
        train, mixed, image_ids=[3])['bleu4'] == pytest.approx(
            1.0, abs=1e-6)
    with pytest.raises(ValueError, match='no caption of image'):
        best_constant_caption_scores(train, mixed, image_ids=[3, 5])


def test_best_constant_caption_is_chosen_on_train_not_by_frequency(tmp_path):
    # 'a person' is the most frequent caption, but the generic caption shares words with every
    # image's references, so it scores best on the training images and is the chance caption
    generic = 'a picture with a circle and a square'
    train_anns = [dict(image_id=i, caption='a person') for i in range(4)]
    train_anns += [
        dict(image_id=i, caption=f'a picture with a circle and a square {word}')
        for i, word in zip(range(4, 7), ('above', 'left', 'below'))
    ]
    train_anns += [dict(image_id=i, caption=generic) for i in (7, 8)]
    train_anns += [
        dict(image_id=i, caption='a picture with a circle and a square right') for i in range(4)
    ]
    train = _write(tmp_path / 'train.json', dict(annotations=train_anns))
    val = _write(
        tmp_path / 'val.json',
        dict(annotations=[
            dict(image_id=20, caption='a picture with a circle and a square left'),
            dict(image_id=21, caption='a picture with a circle and a square above'),
            dict(image_id=22, caption='a red star')
        ]))
    scores = best_constant_caption_scores(train, val, num_candidates=3)
    assert scores['cider_caption'] != 'a person'
    assert scores['cider_caption'].startswith(generic)
    most_frequent = best_constant_caption_scores(train, val, num_candidates=1)
    assert most_frequent['cider_caption'] == 'a person'
    assert scores['cider'] > most_frequent['cider'] and scores['bleu4'] > most_frequent['bleu4']
