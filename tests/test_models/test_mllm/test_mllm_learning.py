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

    What the VQA figure shows: the answers are learnt from the text, not from the image. Asked of
    another scene's image, the same 200 questions got the same answers (none answered right only
    with its own image or only with the other); they beat the text-only predictor (the most
    frequent training answer of each exact question text) because the LLM pools its answers over
    question texts (yes/no 0.605 against 0.506 in a ``t1`` run), not by looking. Reading the image
    is learnt by ``test_tiny_model_learns_to_answer_from_the_image`` below; at this budget it is
    not (the demo's figures and why: docs/en/training_recipe.md).

    Spread (``tools/analysis_tools/learning_test_spread.py``, AVX-512 CPU, 200 questions): VQA
    0.39 / 0.39 / 0.415 under ``t1`` / ``t2`` / ``t1-no-mkldnn``, and 0.39-0.42 over six runs of the
    same training on two days (a setting's figure moved between runs: 0.39 and 0.41 under ``t1``),
    against 0.355 text-only: 7-13 questions of margin; every answer the same with another scene's
    image in every run; routing accuracy 1.0 for every task in every run (bound 0.9); loss ratio
    0.117-0.129 (bound 0.5).
    """
    data_root = generate_data(str(tmp_path / 'shapesworld'))
    result = train_and_evaluate(data_root, num_steps=1600, num_eval=40, num_eval_vqa=200)
    print(result)
    report_figures(
        loss_ratio=result['last_loss'] / result['first_loss'],
        worst_routing_accuracy=min(result['routing_accuracy'].values()),
        vqa_accuracy=result['vqa_accuracy'],
        text_only_vqa_accuracy=result['text_only_vqa_accuracy'],
        other_image_vqa_accuracy=result['other_image_vqa_accuracy'],
        own_image_only_hits=result['own_image_only_hits'],
        other_image_only_hits=result['other_image_only_hits'])
    assert result['last_loss'] < 0.5 * result['first_loss']
    for task, accuracy in result['routing_accuracy'].items():
        assert accuracy >= 0.9, (task, result)
    assert result['vqa_accuracy'] > result['text_only_vqa_accuracy'], result


@pytest.mark.slow
def test_tiny_model_learns_to_answer_from_the_image(tmp_path):
    """16 training questions, four per question text with four different answers and images, one
    wording each: only the image tells them apart. After 1000 steps of VQA alone each is answered
    right with its own image; with another scene's image no better than a text-only answerer.

    Spread under the five settings of ``tools/analysis_tools/learning_test_spread.py`` (1 and 2
    threads, oneDNN off, ATen AVX2 and unvectorised; AVX-512 CPU): own-image accuracy 1.0 in every
    setting (bound 0.9), other-image accuracy 0.0-0.0625 (bound: the text-only 0.25), loss ratio
    1e-4-1.7e-3 (bound 0.1).
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
