"""VisionLLMv2 with the official-layout region encoder: the ``<region>`` rows come from it."""
import torch
from mllm_builders import build_model, make_sample, random_inputs, tiny_model_cfg

from mmvisionllm.models.region_encoder import OfficialRegionEncoder


def test_region_tokens_come_from_the_official_encoder(tokenizer_dir):
    # the tiny CLIP has 8-px patches: stem kernel 4 then 2 reaches its 4 x 4 grid
    cfg = tiny_model_cfg(tokenizer_dir)
    cfg['region_encoder'] = dict(type='OfficialRegionEncoder', stem_channels=16, patch_size=8)
    model = build_model(cfg)
    assert isinstance(model.region_encoder, OfficialRegionEncoder)
    mask = torch.zeros(48, 48, dtype=torch.bool)
    mask[10:30, 5:25] = True
    sample = make_sample('region', '<image>\nwhat is <region> ?', 'a red circle', regions=[mask])
    model.train()
    data = model.data_preprocessor(dict(inputs=random_inputs(1), data_samples=[sample]), True)
    losses = model(**data, mode='loss')
    losses['loss_lm'].backward()
    grad = model.region_encoder.mask_embedding[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0
    with torch.no_grad():
        model.eval()
        tiles = data['inputs']['clip_pixels'][0]
        _, region_tokens = model.encode_images([tiles], data['data_samples'])
        features = model.vision_encoder(tiles)
        expected = model.region_encoder(tiles[-1], features.region_layers[-1], [mask])
    torch.testing.assert_close(region_tokens[0], expected)
