"""The real-scale decoder configs load a local Stable-Diffusion-1.5-layout folder by path.

Tiny random diffusers/transformers components are written with ``save_pretrained`` into
``tmp_path/{unet,vae,scheduler,text_encoder,tokenizer}`` (SD 1.5's layout, including its PNDM
scheduler config and a CLIP BPE tokenizer built from a tiny vocabulary:
``tests/data/real_layouts.py``); the shipped configs
``gen_sd15.py`` / ``edit_sd15.py`` are then built with only the folder path (and the sizes that the
tiny parts imply) changed.
"""
import os.path as osp

import pytest
import torch
from diffusers import UNet2DConditionModel
from mmengine.config import Config
from real_layouts import SD_WORDS, save_stable_diffusion

from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
WIDTH = 32  # CLIP width = UNet cross-attention width
LLM_WIDTH = 48


def _save_sd_folder(root: str, width: int = WIDTH, unet_in_channels: int = 4) -> str:
    return save_stable_diffusion(root, width, unet_in_channels, words=SD_WORDS)


@pytest.fixture(scope='module')
def sd_folder(tmp_path_factory):
    return _save_sd_folder(str(tmp_path_factory.mktemp('sd15_tiny')))


def _decoder_cfg(name: str, folder: str, variable: str) -> dict:
    """The shipped config with the folder swapped in and the tiny parts' sizes."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'models', 'decoders', name))
    decoder = cfg[variable].to_dict()
    for key in ('unet', 'vae', 'noise_scheduler', 'text_encoder', 'tokenizer'):
        # every part comes from the folder
        assert decoder[key]['pretrained'] == cfg[variable.split('_')[0] + '_sd15_path']
        decoder[key]['pretrained'] = folder
    decoder.update(
        in_channels=LLM_WIDTH, num_queries=4, image_size=32, gradient_checkpointing=False)
    decoder['test_cfg']['num_inference_steps'] = 3
    return decoder


def _sample(**metainfo) -> MMDataSample:
    sample = MMDataSample(metainfo=metainfo)
    sample.gt_image = torch.randint(0, 256, (3, 40, 40), dtype=torch.uint8)
    return sample


def test_gen_decoder_loads_sd15_layout(sd_folder):
    cfg = _decoder_cfg('gen_sd15.py', sd_folder, 'gen_decoder')
    assert cfg['num_queries'] == 4 and cfg['routing_tokens'] == ('[GEN]', )
    decoder = MODELS.build(cfg)
    saved_unet = UNet2DConditionModel.from_pretrained(osp.join(sd_folder, 'unet'))
    for (name, p), q in zip(decoder.unet.state_dict().items(), saved_unet.state_dict().values()):
        assert torch.equal(p, q), name
    assert decoder.codec.latent_channels == 4 and decoder.codec.latent_size == (16, 16)
    assert decoder.noise_scheduler.config.beta_schedule == 'scaled_linear'
    assert decoder.link_mapper.num_queries == 77
    assert not any(p.requires_grad for p in decoder.text_encoder.parameters())
    assert not any(p.requires_grad for p in decoder.codec.vae.parameters())

    # the null context starts at CLIP's embedding of the empty caption
    empty = decoder._caption_embeddings([''], torch.device('cpu'))[0]
    assert torch.allclose(decoder.null_context, empty)

    # MMEngine's init_weights must not re-initialise the pretrained parts
    before = {k: v.clone() for k, v in decoder.text_encoder.state_dict().items()}
    decoder.init_weights()
    for k, v in decoder.text_encoder.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert torch.equal(decoder.unet.conv_in.weight, saved_unet.conv_in.weight)

    links = torch.randn(2, 1, 4, LLM_WIDTH, requires_grad=True)
    mask = torch.ones(2, 1, dtype=torch.bool)
    samples = [_sample(caption='a large red circle'), _sample(caption='draw a small blue star')]
    decoder.train()
    assert not decoder.text_encoder.training and not decoder.codec.vae.training
    losses = decoder.loss(links, mask, None, samples)
    assert set(losses) == {'loss_noise', 'loss_text_align'}
    assert all(torch.isfinite(v) for v in losses.values())
    # the auxiliary loss is 0.1 x MSE between mapper output and the caption embeddings
    context = decoder.map_links(links, mask)
    target = decoder._caption_embeddings(['a large red circle', 'draw a small blue star'],
                                         torch.device('cpu'))
    assert torch.allclose(
        losses['loss_text_align'], 0.1 * ((context - target)**2).mean(), atol=1e-6)
    sum(losses.values()).backward()
    assert links.grad is not None and links.grad.abs().sum() > 0

    decoder.eval()
    out = decoder.predict(links.detach(), mask, None, [MMDataSample(), MMDataSample()])
    assert out[0].pred_image.dtype == torch.uint8 and out[0].pred_image.shape == (3, 32, 32)


def test_edit_decoder_widens_sd15_unet(sd_folder):
    cfg = _decoder_cfg('edit_sd15.py', sd_folder, 'edit_decoder')
    decoder = MODELS.build(cfg)
    saved = UNet2DConditionModel.from_pretrained(osp.join(sd_folder, 'unet')).conv_in.weight
    conv = decoder.unet.conv_in
    assert conv.in_channels == 8 and decoder.unet.config.in_channels == 8
    assert torch.equal(conv.weight[:, :4], saved) and not conv.weight[:, 4:].any()
    links = torch.randn(1, 1, 4, LLM_WIDTH)
    mask = torch.ones(1, 1, dtype=torch.bool)
    source = torch.randint(0, 256, (3, 40, 48), dtype=torch.uint8)
    losses = decoder.loss(links, mask, [source], [_sample(edit_instruction='make the star green')])
    assert set(losses) == {'loss_noise', 'loss_text_align'}
    out = decoder.predict(links, mask, [source], [MMDataSample()])
    assert out[0].pred_image.shape == (3, 40, 48)  # back at the source's size


def test_missing_folder_names_key_and_path(sd_folder, tmp_path):
    cfg = _decoder_cfg('gen_sd15.py', sd_folder, 'gen_decoder')
    cfg['vae']['pretrained'] = str(tmp_path / 'missing_sd')
    with pytest.raises(FileNotFoundError) as err:
        MODELS.build(cfg)
    assert 'vae.pretrained' in str(err.value)
    assert osp.join(str(tmp_path / 'missing_sd'), 'vae') in str(err.value)


@pytest.mark.parametrize('width,heads', [(1024, 16)])
def test_gen_decoder_takes_sd2_cross_attention_width(width, heads, tmp_path):
    """SD 2.x's UNet reads a 1024-wide context (OpenCLIP-H): the shipped config's link mapper takes
    that width with 64-wide heads, without a config edit."""
    folder = _save_sd_folder(str(tmp_path / 'sd2_tiny'), width=width)
    decoder = MODELS.build(_decoder_cfg('gen_sd15.py', folder, 'gen_decoder'))
    assert decoder.link_mapper.out_channels == width and decoder.link_mapper.num_heads == heads
    links = torch.randn(1, 1, 4, LLM_WIDTH)
    mask = torch.ones(1, 1, dtype=torch.bool)
    losses = decoder.loss(links, mask, None, [_sample(caption='a large red circle')])
    assert all(torch.isfinite(v) for v in losses.values())


def test_edit_decoder_loads_instruct_pix2pix_layout(tmp_path):
    folder = _save_sd_folder(str(tmp_path / 'ip2p_tiny'), unet_in_channels=8)
    decoder = MODELS.build(_decoder_cfg('edit_sd15.py', folder, 'edit_decoder'))
    saved = UNet2DConditionModel.from_pretrained(osp.join(folder, 'unet')).conv_in.weight
    assert torch.equal(decoder.unet.conv_in.weight, saved)  # taken as it is, not widened
    source = torch.randint(0, 256, (3, 36, 52), dtype=torch.uint8)
    losses = decoder.loss(
        torch.randn(1, 1, 4, LLM_WIDTH), torch.ones(1, 1, dtype=torch.bool), [source],
        [_sample(edit_instruction='make the star green')])
    assert all(torch.isfinite(v) for v in losses.values())


def test_link_mapper_heads_follow_the_context_width():
    from mmvisionllm.models.decoders.generation import LinkMapper
    for width, heads in ((768, 12), (1024, 16), (2048, 32), (32, 1)):  # SD 1.5, 2.x, XL, tiny
        assert LinkMapper(8, width, num_queries=2, ffn_ratio=1).num_heads == heads
    with pytest.raises(ValueError, match='does not divide'):
        LinkMapper(8, 1024, num_heads=12)
