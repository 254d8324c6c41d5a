"""vision_probe.py: known answers of the probe on hand-made features."""
import torch
from tool_loader import load_tool

from mmvisionllm.models import VisionTagPretrainer

vision_probe = load_tool('analysis_tools/vision_probe.py')

TOWER = dict(
    type='CLIPVisionEncoder',
    config=dict(
        image_size=32,
        patch_size=8,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2))


def tagged_images(num: int, num_tags: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    tags = (torch.rand(num, num_tags, generator=generator) < 0.3).float()
    return tags


def test_features_without_information_give_the_majority_answer():
    torch.manual_seed(0)
    model = VisionTagPretrainer(vision_encoder=TOWER, num_tags=4, head_channels=8)
    train_tags, val_tags = tagged_images(64, 4, 0), tagged_images(32, 4, 1)
    figures = vision_probe.probe(
        model, (torch.zeros(64, 16, 16), train_tags), (torch.zeros(32, 16, 16), val_tags),
        iters=300,
        batch_size=16)
    torch.testing.assert_close(figures['accuracy'], figures['majority_accuracy'])
    assert figures['majority_accuracy'].min() < 1.0  # the check above is not trivially true


def test_features_that_show_the_tags_are_read_perfectly():
    torch.manual_seed(0)
    model = VisionTagPretrainer(vision_encoder=TOWER, num_tags=4, head_channels=8)

    def tokens_of(tags):  # one token per tag, lit where the image has it; 12 blank tokens
        tokens = torch.zeros(len(tags), 16, 16)
        tokens[:, :4, :4] = torch.diag_embed(tags) * 3
        return tokens

    train_tags, val_tags = tagged_images(64, 4, 0), tagged_images(32, 4, 1)
    figures = vision_probe.probe(
        model, (tokens_of(train_tags), train_tags), (tokens_of(val_tags), val_tags),
        iters=400,
        batch_size=16)
    assert figures['accuracy'].min() == 1.0
    assert figures['majority_accuracy'].max() < 1.0
