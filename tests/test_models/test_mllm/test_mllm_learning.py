"""The tiny VisionLLMv2 learns ShapesWorld: it routes by itself in free-running chat and answers VQA
better than the best text-only predictor; and, trained on questions only the image can answer, it
answers them from the image."""
import pytest
from learning_figures import report_figures
from shapesworld_learning import generate_data, overfit_image_questions, train_and_evaluate


@pytest.mark.slow
def test_tiny_model_learns_routing_and_vqa(tmp_path):
    """1600 steps of every task (VQA in 8 of 13 batches), then free-running chat on 40 val prompts
    per task and 200 val VQA questions.

    What it learns of VQA is the answers' language, not the image. Every answer is one of its
    question type's (a number for 'how many', a colour name for 'what color', ...: the asserted
    figure). Asked of another scene's image, the same 200 questions got the same answers (none
    right only with its own image or only with the other), so the accuracy above the text-only
    predictor (the most frequent training answer of each exact question text) comes from pooling
    answers over question texts (yes/no 0.605 against 0.506 in a ``t1`` run), not from looking; it
    is reported, not asserted (a margin of 7-13 of 200 questions). Reading the image is learnt by
    ``test_tiny_model_learns_to_answer_from_the_image`` below; at this budget it is not (the demo's
    figures and why: docs/en/training_recipe.md).

    Spread (``tools/analysis_tools/learning_test_spread.py``, AVX-512 CPU, 200 questions), seeded
    as now under ``t1`` / ``t1-no-mkldnn``: answers of their type 1.0 in each (bound 0.9), routing
    accuracy 1.0 for every task (bound 0.9), loss ratio 0.1264 / 0.1231 (bound 0.5), VQA 0.39
    against 0.355 text-only, every answer the same with another scene's image. Before the
    test seeded Python's and numpy's generators (the pipelines' prompt wordings), nine runs under
    the same three settings gave VQA 0.39-0.42 and loss ratios 0.117-0.131.
    """
    data_root = generate_data(str(tmp_path / 'shapesworld'))
    result = train_and_evaluate(data_root, num_steps=1600, num_eval=40, num_eval_vqa=200)
    print(result)
    report_figures(
        loss_ratio=result['last_loss'] / result['first_loss'],
        worst_routing_accuracy=min(result['routing_accuracy'].values()),
        vqa_answer_of_type=result['vqa_answer_of_type'],
        vqa_accuracy=result['vqa_accuracy'],
        text_only_vqa_accuracy=result['text_only_vqa_accuracy'],
        other_image_vqa_accuracy=result['other_image_vqa_accuracy'],
        own_image_only_hits=result['own_image_only_hits'],
        other_image_only_hits=result['other_image_only_hits'])
    assert result['last_loss'] < 0.5 * result['first_loss']
    for task, accuracy in result['routing_accuracy'].items():
        assert accuracy >= 0.9, (task, result)
    # the answer vocabulary of each question type is learnt (from the text: see the docstring)
    assert result['vqa_answer_of_type'] >= 0.9, result


@pytest.mark.slow
def test_tiny_model_learns_to_answer_from_the_image(tmp_path):
    """16 training questions, four per question text with four different answers and images, one
    wording each: only the image tells them apart. After 1000 steps of VQA alone each is answered
    right with its own image; with another scene's image no better than a text-only answerer.

    Spread under the five settings of ``tools/analysis_tools/learning_test_spread.py`` (1 and 2
    threads, oneDNN off, ATen AVX2 and unvectorised; AVX-512 CPU), before the pipelines' Python and
    numpy generators were seeded: own-image accuracy 1.0 in every setting (bound 0.9), other-image
    accuracy 0.0-0.0625 (bound: the text-only 0.25), loss ratio 1e-4-1.7e-3 (bound 0.1); seeded as
    now, the same ranges under all but ``t2`` (loss ratio 8e-5-6.1e-4).
    """
    data_root = generate_data(str(tmp_path / 'shapesworld'), num_train=200, num_val=2)
    result = overfit_image_questions(data_root)
    print(result)
    report_figures(
        loss_ratio=result['last_loss'] / result['first_loss'],
        own_image_accuracy=result['own_image_accuracy'],
        other_image_accuracy=result['other_image_accuracy'],
        text_only_accuracy=result['text_only_accuracy'])
    assert result['last_loss'] < 0.1 * result['first_loss'], result
    assert result['own_image_accuracy'] >= 0.9, result
    assert result['other_image_accuracy'] <= result['text_only_accuracy'], result
