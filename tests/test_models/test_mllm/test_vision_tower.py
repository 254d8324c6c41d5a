"""The tiny CLIP tower's convolutional stem, and a frozen tower that stays frozen in train mode."""
import pytest
import torch
from mllm_builders import build_model, tiny_model_cfg

from mmvisionllm.models import CLIPVisionEncoder, ConvStem

TOWER = dict(
    image_size=32,
    patch_size=8,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2)


def test_conv_stem_gives_the_patch_grid():
    stem = ConvStem(out_channels=32, patch_size=8, channels=(8, 16, 16))
    assert stem(torch.rand(2, 3, 32, 32)).shape == (2, 32, 4, 4)
    with pytest.raises(ValueError, match='stride 4.*patch size is 8'):
        ConvStem(out_channels=32, patch_size=8, channels=(8, 16))


def test_clip_tower_with_conv_stem_keeps_its_interface():
    encoder = CLIPVisionEncoder(
        config=TOWER, conv_stem=dict(type='ConvStem', channels=(8, 8, 8)), num_region_layers=2)
    assert isinstance(encoder.clip.embeddings.patch_embedding, ConvStem)
    features = encoder(torch.rand(3, 3, 32, 32))
    assert features.patch_tokens.shape == (3, encoder.tokens_per_tile, 32) == (3, 16, 32)
    assert features.region_layers.shape == (3, 2, 16, 32)
    # the stem learns: gradients reach its first conv
    features.patch_tokens.sum().backward()
    first_conv = encoder.clip.embeddings.patch_embedding.blocks[0].conv
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0


def test_conv_stem_refuses_a_pretrained_tower(tmp_path):
    with pytest.raises(ValueError, match='conv_stem.*random-init'):
        CLIPVisionEncoder(pretrained_path=str(tmp_path), conv_stem=dict(type='ConvStem'))


def test_frozen_tower_keeps_its_norm_statistics_in_train_mode(tokenizer_dir):
    model = build_model(tiny_model_cfg(tokenizer_dir))
    stem = model.vision_encoder.clip.embeddings.patch_embedding
    bn = stem.blocks[0].norm
    before = bn.running_mean.clone()
    model.train()
    assert not model.vision_encoder.training and not bn.training
    assert model.llm.training
    model.vision_encoder(torch.rand(2, 3, 32, 32) * 5)
    torch.testing.assert_close(bn.running_mean, before)

    trainable = build_model(tiny_model_cfg(tokenizer_dir, frozen_components=()))
    trainable.train()
    assert trainable.vision_encoder.training
    stats = trainable.vision_encoder.clip.embeddings.patch_embedding.blocks[0].norm.running_mean
    before = stats.clone()
    trainable.vision_encoder(torch.rand(2, 3, 32, 32) * 5)
    assert not torch.allclose(stats, before)
