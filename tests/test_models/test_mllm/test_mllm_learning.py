"""The tiny VisionLLMv2 learns ShapesWorld: it routes by itself in free-running chat and answers VQA
from the image better than the best text-only predictor."""
import pytest
from shapesworld_learning import generate_data, train_and_evaluate


@pytest.mark.slow
def test_tiny_model_learns_routing_and_vqa(tmp_path):
    data_root = generate_data(str(tmp_path / 'shapesworld'))
    result = train_and_evaluate(data_root, num_steps=1600, num_eval=40, num_eval_vqa=200)
    print(result)
    assert result['last_loss'] < 0.5 * result['first_loss']
    for task, accuracy in result['routing_accuracy'].items():
        assert accuracy >= 0.9, (task, result)
    assert result['vqa_accuracy'] > result['text_only_vqa_accuracy'], result
