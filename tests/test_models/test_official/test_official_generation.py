"""Official-compatible [GEN] / [EDIT] decoders: layout, conversion, mapper math, null context."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmvisionllm.datasets.shapesworld.vocabulary import build_word_level_tokenizer
from mmvisionllm.models.decoders.generation import (OfficialInstructEditDecoder, OfficialLinkMapper,
                                                    OfficialTextToImageDecoder)
from mmvisionllm.registry import MODELS
from .official_layout import prefix_shapes

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
C, D = 16, 32  # LLM width and context width of the tiny builds
_TOKENIZER = {}


@pytest.fixture(scope='module', autouse=True)
def _word_tokenizer(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('official_gen_tokenizer'))
    build_word_level_tokenizer(['sample']).save_pretrained(folder)
    _TOKENIZER['path'] = folder


def _facts(prefix: str) -> dict:
    return prefix_shapes(prefix)


def _tiny(cls=OfficialTextToImageDecoder, seed: int = 0, unet_channels=None, **overrides):
    """A tiny official-compatible decoder (the reduced reference's component sizes)."""
    torch.manual_seed(seed)
    in_channels = 8 if cls is OfficialInstructEditDecoder else 4
    in_channels, out_channels = unet_channels or (in_channels, 4)
    cfg = dict(
        in_channels=C,
        num_queries=6,
        image_size=32,
        unet=dict(
            type='UNet2DConditionModel',
            sample_size=4,
            in_channels=in_channels,
            out_channels=out_channels,
            block_out_channels=(32, 64),
            down_block_types=('CrossAttnDownBlock2D', 'DownBlock2D'),
            up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D'),
            layers_per_block=1,
            attention_head_dim=4,
            cross_attention_dim=D),
        vae=dict(
            type='AutoencoderKL',
            block_out_channels=(32, 32),
            down_block_types=('DownEncoderBlock2D', ) * 2,
            up_block_types=('UpDecoderBlock2D', ) * 2,
            layers_per_block=1,
            sample_size=32),
        text_encoder=dict(
            type='CLIPTextModel',
            vocab_size=512,
            hidden_size=D,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77),
        tokenizer=dict(type='AutoTokenizer', pretrained=_TOKENIZER['path']),
        noise_scheduler=dict(type='DDPMScheduler'),
        link_mapper=dict(type='OfficialLinkMapper', num_queries=77))
    cfg.update(overrides)
    return cls(**cfg).eval()


def _official_layout(decoder, seed: int = 1) -> tuple:
    """Official-layout tensors of the wrapper ``decoder`` stands for: the mapper built as the
    official code builds it (torch modules directly), the components renamed to the official
    (transformers 4.x) names. Returns (tensors, the mapper modules)."""
    torch.manual_seed(seed)
    emb_proj = nn.Sequential(nn.Linear(C, D), nn.GELU(), nn.Linear(D, D))
    queries = torch.randn(1, 77, D)
    mapper = nn.Transformer(
        batch_first=True,
        norm_first=True,
        d_model=D,
        num_encoder_layers=1,
        num_decoder_layers=1,
        dim_feedforward=4 * D,
        dropout=0.0).eval()
    official = {f'emb_proj.{k}': v for k, v in emb_proj.state_dict().items()}
    official.update({f'llm2sd_mapper.{k}': v for k, v in mapper.state_dict().items()})
    official['llm2sd_mapper_queries'] = queries
    other = _tiny(type(decoder), seed=seed + 1)
    for ours, theirs in (('unet.', 'sd_unet.'), ('codec.vae.', 'sd_vae.'),
                         ('text_encoder.', 'sd_text_encoder.text_model.')):
        official.update({
            theirs + k[len(ours):]: v.clone()
            for k, v in other.state_dict().items() if k.startswith(ours)
        })
    return official, (emb_proj, queries, mapper)


def test_mapper_names_are_the_official_ones():
    facts = _facts('sd.')
    expected = {k for k in facts if k.startswith(('emb_proj.', 'llm2sd_mapper'))}
    official, _ = _official_layout(_tiny())
    assert {k for k in official if k.startswith(('emb_proj.', 'llm2sd_mapper'))} == expected
    with torch.device('meta'):
        mapper = OfficialLinkMapper(4096, 768)
    converted = mapper.convert_official_state_dict(
        {k: torch.empty(facts[k], device='meta')
         for k in expected})
    ours = mapper.state_dict()
    assert set(converted) == set(ours)
    assert all(ours[k].shape == v.shape for k, v in converted.items())


@pytest.mark.parametrize('cls', [OfficialTextToImageDecoder, OfficialInstructEditDecoder])
@torch.no_grad()
def test_synthetic_official_tensors_load_strictly_and_map_as_the_official_mapper(cls):
    decoder = _tiny(cls)
    official, (emb_proj, queries, mapper) = _official_layout(decoder)
    decoder.load_state_dict(decoder.convert_official_state_dict(official), strict=True)
    links = torch.randn(2, 1, 6, C)
    ours = decoder.map_links(links, torch.ones(2, 1, dtype=torch.bool))
    reference = mapper(src=emb_proj(links[:, 0]), tgt=queries.repeat(2, 1, 1))
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    assert torch.equal(decoder.unet.conv_in.weight, official['sd_unet.conv_in.weight'])
    assert torch.equal(decoder.codec.vae.decoder.conv_out.bias,
                       official['sd_vae.decoder.conv_out.bias'])


@torch.no_grad()
def test_masked_targets_do_not_reach_the_context():
    decoder = _tiny()
    links = torch.randn(1, 2, 6, C)
    both = decoder.map_links(links, torch.tensor([[True, False]]))
    first = decoder.map_links(links[:, :1], torch.ones(1, 1, dtype=torch.bool))
    torch.testing.assert_close(both, first, rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_null_context_is_the_text_encoder_embedding_of_empty_and_follows_loading():
    decoder = _tiny()
    assert 'null_context' not in decoder.state_dict()
    torch.testing.assert_close(decoder.null_context,
                               decoder._caption_embeddings([''], torch.device('cpu'))[0])
    other = _tiny(seed=5)
    assert not torch.allclose(decoder.null_context, other.null_context)
    decoder.load_state_dict(other.state_dict(), strict=True)
    torch.testing.assert_close(decoder.null_context, other.null_context)
    # also as part of a bigger model's load_state_dict
    holder, source = nn.ModuleDict(dict(gen=_tiny())), nn.ModuleDict(dict(gen=_tiny(seed=7)))
    holder.load_state_dict(source.state_dict())
    torch.testing.assert_close(holder['gen'].null_context, source['gen'].null_context)


def test_conversion_lists_every_unplaced_key():
    decoder = _tiny(vae=None, unet_channels=(3, 3))  # pixel space, no VAE
    official, _ = _official_layout(_tiny())
    official['sd_pipeline.foo'] = torch.zeros(1)
    with pytest.raises(KeyError) as error:
        decoder.convert_official_state_dict(official)
    message = str(error.value)
    assert 'sd_pipeline.foo' in message and 'sd_vae.encoder.conv_in.weight' in message
    assert 'sd_unet.conv_in.weight' in message  # 4 input channels here vs 3
    plain = _tiny(link_mapper=dict(type='LinkMapper', num_queries=77))
    with pytest.raises(KeyError, match='use OfficialLinkMapper'):
        plain.convert_official_state_dict(official)


@torch.no_grad()
def test_official_defaults():
    gen, edit = _tiny(), _tiny(OfficialInstructEditDecoder)
    assert not any(p.requires_grad for p in gen.unet.parameters())
    assert all(p.requires_grad for p in edit.unet.parameters())
    assert (gen.cond_drop_prob, edit.cond_drop_prob) == (0.2, 0.05)
    assert gen.null_context_source == edit.null_context_source == 'text_encoder'
    assert isinstance(edit.link_mapper, OfficialLinkMapper)
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    source = edit._source_latents([image], [0], torch.device('cpu'))
    pixels = edit.codec.to_pixels([image], torch.device('cpu'))
    torch.testing.assert_close(source, edit.codec.vae.encode(pixels).latent_dist.mode())


def test_real_size_configs_place_every_official_tensor():
    """The shipped official configs, built on the meta device, take every ``sd.*`` / ``ip2p.*``
    tensor of the released checkpoint (names and shapes from the facts file) and nothing is left
    without a value."""
    for name, variable, prefix in (('gen_sd15_official.py', 'gen_official_decoder', 'sd.'),
                                   ('edit_ip2p_official.py', 'edit_official_decoder', 'ip2p.')):
        cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'models', 'decoders', name))
        decoder_cfg = copy.deepcopy(cfg[variable].to_dict())
        decoder_cfg['tokenizer'] = dict(type='AutoTokenizer', pretrained=_TOKENIZER['path'])
        with torch.device('meta'):
            decoder = MODELS.build(decoder_cfg, default_args=dict(in_channels=4096))
        facts = _facts(prefix)
        converted = decoder.convert_official_state_dict({
            k: torch.empty(s, device='meta')
            for k, s in facts.items()
        })
        assert set(converted) == set(decoder.state_dict()), name
