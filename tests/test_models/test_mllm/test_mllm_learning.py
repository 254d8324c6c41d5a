"""The tiny VisionLLMv2 learns ShapesWorld: it routes by itself in free-running chat and answers VQA
from the image better than the best text-only predictor."""
import pytest
from learning_figures import report_figures
from shapesworld_learning import generate_data, train_and_evaluate


@pytest.mark.slow
def test_tiny_model_learns_routing_and_vqa(tmp_path):
    """Measured once so far (``tools/analysis_tools/learning_test_spread.py ... --settings t1``:
    1 thread, oneDNN on, AVX-512 CPU): loss ratio 0.117 (bound 0.5), routing accuracy 1.0 for every
    task (bound 0.9), VQA 0.39 against 0.355 for the best text-only answer. That last margin is 7
    of 200 questions and the bound is the chance figure itself, so it is thin. The 2-thread run
    reported nothing (on the loaded machine it likely ran past pytest's 900 s timeout; its output
    was not kept) and the other settings are not measured yet.
    """
    data_root = generate_data(str(tmp_path / 'shapesworld'))
    result = train_and_evaluate(data_root, num_steps=1600, num_eval=40, num_eval_vqa=200)
    print(result)
    report_figures(
        loss_ratio=result['last_loss'] / result['first_loss'],
        worst_routing_accuracy=min(result['routing_accuracy'].values()),
        vqa_accuracy=result['vqa_accuracy'],
        text_only_vqa_accuracy=result['text_only_vqa_accuracy'])
    assert result['last_loss'] < 0.5 * result['first_loss']
    for task, accuracy in result['routing_accuracy'].items():
        assert accuracy >= 0.9, (task, result)
    assert result['vqa_accuracy'] > result['text_only_vqa_accuracy'], result
