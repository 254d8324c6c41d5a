"""Behaviour of the [GEN] / [EDIT] diffusion decoders built from the shipped tiny configs."""
import copy
import os.path as osp
import zlib

import pytest
import torch
from mmengine.config import Config

from mmvisionllm.datasets.shapesworld.vocabulary import build_word_level_tokenizer
from mmvisionllm.models.decoders.generation import (InstructEditDecoder, LinkMapper,
                                                    TextToImageDecoder, sample_seed)
from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
C = 32  # LLM width of these tests
_TOKENIZER = {}  # the saved test tokenizer that stands in for data/shapesworld/tokenizer


@pytest.fixture(scope='module', autouse=True)
def _word_tokenizer(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('gen_decoder_tokenizer'))
    build_word_level_tokenizer([f'sample {i}' for i in range(4)]).save_pretrained(folder)
    _TOKENIZER['path'] = folder


def _cfg(name: str, variable: str, **overrides) -> dict:
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'models', 'decoders', name))
    decoder = copy.deepcopy(cfg[variable].to_dict())
    if decoder.get('tokenizer'):
        decoder['tokenizer']['pretrained'] = _TOKENIZER['path']
    decoder['image_size'] = 32  # the 64-px configs at 32 px keep these tests fast
    decoder['unet']['sample_size'] = 32
    decoder['test_cfg']['num_inference_steps'] = 4
    decoder.update(in_channels=C, **overrides)
    return decoder


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions run faster on one thread of the shared CPU
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def _samples(n: int, size: int = 40):
    out = []
    for i in range(n):
        s = MMDataSample(metainfo=dict(caption=f'sample {i}', edit_instruction=f'sample {i + 1}'))
        s.gt_image = torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
        out.append(s)
    return out


def test_tiny_configs_build():
    gen = MODELS.build(_cfg('gen_tiny.py', 'gen_decoder'))
    edit = MODELS.build(_cfg('edit_tiny.py', 'edit_decoder'))
    assert isinstance(gen, TextToImageDecoder) and isinstance(edit, InstructEditDecoder)
    assert gen.routing_tokens == ('[GEN]', ) and edit.routing_tokens == ('[EDIT]', )
    assert gen.num_queries == 8 and gen.in_channels == C
    assert isinstance(gen.link_mapper, LinkMapper) and gen.link_mapper.num_queries == 16
    assert gen.null_context.shape == (16, 64)
    assert gen.codec.vae is None and gen.codec.latent_channels == 3
    # pixel space: 3 image channels (+ 3 source channels for editing) + 2 coordinate channels
    assert gen.unet.config.in_channels == 5 and edit.unet.config.in_channels == 8
    # the auxiliary text-alignment loss of the paper: a frozen tiny CLIP text encoder
    assert gen.text_encoder.config.hidden_size == gen.link_mapper.out_channels
    assert not any(p.requires_grad for p in gen.text_encoder.parameters())
    assert edit.text_encoder is not None and edit.caption_key == 'edit_instruction'
    with pytest.raises(ValueError, match='in_channels=8'):
        cfg = _cfg('edit_tiny.py', 'edit_decoder', type='TextToImageDecoder')
        cfg.pop('source_residual')
        MODELS.build(cfg)
    # a plain 3-channel (text-to-image) UNet is widened, the new input channels start at zero
    cfg = _cfg('edit_tiny.py', 'edit_decoder')
    cfg['unet']['in_channels'] = 3
    widened = MODELS.build(cfg)
    assert widened.unet.conv_in.in_channels == 8 and not widened.unet.conv_in.weight[:, 3:].any()


def test_loss_backpropagates_into_links():
    decoder = MODELS.build(_cfg('gen_tiny.py', 'gen_decoder'))
    links = torch.randn(2, 1, 8, C, requires_grad=True)
    losses = decoder.loss(links, torch.ones(2, 1, dtype=torch.bool), None, _samples(2))
    assert set(losses) == {'loss_noise', 'loss_text_align'}
    assert torch.isfinite(losses['loss_noise'])
    losses['loss_noise'].backward(retain_graph=True)
    assert links.grad.abs().sum() > 0
    assert decoder.link_mapper.queries.grad is not None
    assert decoder.unet.conv_in.weight.grad.abs().sum() > 0
    links.grad = None
    losses['loss_text_align'].backward()  # the alignment loss also reaches the LLM
    assert links.grad.abs().sum() > 0


def test_text_alignment_loss_is_the_mse_to_the_caption_embedding(monkeypatch):
    decoder = MODELS.build(_cfg('gen_tiny.py', 'gen_decoder', text_align_weight=0.5))
    samples = _samples(2)
    captions = [s.caption for s in samples]
    embeds = decoder._caption_embeddings(captions, torch.device('cpu'))
    assert (embeds[0] - embeds[1]).abs().max() > 0.1  # the target depends on the caption
    links = torch.zeros(2, 1, 8, C)
    mask = torch.ones(2, 1, dtype=torch.bool)
    monkeypatch.setattr(decoder, 'map_links', lambda *args: embeds.clone())
    assert decoder.loss(links, mask, None, samples)['loss_text_align'] == 0
    monkeypatch.setattr(decoder, 'map_links', lambda *args: embeds.flip(0))
    swapped = decoder.loss(links, mask, None, samples)['loss_text_align']
    assert torch.allclose(swapped, 0.5 * ((embeds[0] - embeds[1])**2).mean())
    # the null context starts at the embedding of the empty caption
    assert torch.allclose(decoder.null_context, decoder._caption_embeddings([''], 'cpu')[0])


def test_text_encoder_vocabulary_must_cover_the_tokenizer():
    cfg = _cfg('gen_tiny.py', 'gen_decoder')
    cfg['text_encoder']['vocab_size'] = 8
    with pytest.raises(ValueError, match='raise text_encoder.vocab_size'):
        MODELS.build(cfg)


def test_condition_dropout_swaps_in_the_null_context():
    decoder = MODELS.build(_cfg('gen_tiny.py', 'gen_decoder', cond_drop_prob=1.0))
    links = torch.randn(2, 1, 8, C, requires_grad=True)
    decoder.loss(links, torch.ones(2, 1, dtype=torch.bool), None, _samples(2))['loss_noise'] \
        .backward()
    assert links.grad is None or links.grad.abs().sum() == 0
    assert decoder.null_context.grad.abs().sum() > 0


def test_targets_masks_and_samples_without_targets():
    decoder = MODELS.build(_cfg('gen_tiny.py', 'gen_decoder')).eval()
    links = torch.randn(3, 2, 8, C)
    mask = torch.tensor([[True, False], [False, False], [True, True]])
    # a masked second target does not change the context of the first
    ctx_masked = decoder.map_links(links[:1], mask[:1])
    ctx_alone = decoder.map_links(links[:1, :1], mask[:1, :1])
    assert torch.allclose(ctx_masked, ctx_alone, atol=1e-5)
    # sample 1 has no [GEN]: no image for it, the others get one
    out = decoder.predict(links, mask, None, [MMDataSample() for _ in range(3)])
    assert 'pred_image' not in out[1]
    assert out[0].pred_image.shape == (3, 32, 32) and out[0].pred_image.dtype == torch.uint8
    # a batch without any target: zero loss that still reaches the trainable mapper
    decoder.train()
    loss = decoder.loss(links, torch.zeros(3, 2, dtype=torch.bool), None, _samples(3))
    assert loss['loss_noise'].item() == 0.0 and loss['loss_noise'].requires_grad


@pytest.mark.parametrize('scheduler', ['DDIMScheduler', 'DPMSolverMultistepScheduler'])
def test_sampling_is_seeded_and_batch_independent(scheduler):
    decoder = MODELS.build(
        _cfg('gen_tiny.py', 'gen_decoder', sample_scheduler=dict(type=scheduler))).eval()
    links = torch.randn(2, 1, 8, C)
    mask = torch.ones(2, 1, dtype=torch.bool)
    pair = decoder.predict(links, mask, None, [MMDataSample(), MMDataSample()])
    alone = decoder.predict(links[1:], mask[1:], None, [MMDataSample()])
    # same start noise whatever the batch; batched convolutions may differ by float rounding
    diff = (pair[1].pred_image.int() - alone[0].pred_image.int()).abs()
    assert diff.max() <= 2 and diff.float().mean() < 0.05
    decoder.test_cfg['seed'] = 1
    other = decoder.predict(links[1:], mask[1:], None, [MMDataSample()])
    assert (other[0].pred_image.int() - alone[0].pred_image.int()).abs().float().mean() > 10


def test_each_sample_draws_its_own_start_noise():
    decoder = MODELS.build(_cfg('gen_tiny.py', 'gen_decoder')).eval()
    links = torch.randn(1, 1, 8, C).expand(2, -1, -1, -1)  # the same prompt twice
    mask = torch.ones(2, 1, dtype=torch.bool)
    samples = [MMDataSample(metainfo=dict(img_id=3)), MMDataSample(metainfo=dict(img_id=4))]
    pair = decoder.predict(links, mask, None, samples)
    # same prompt, different samples: different noise, so a set of images has its spread
    assert (pair[0].pred_image.int() - pair[1].pred_image.int()).abs().float().mean() > 10
    again = decoder.predict(links[:1], mask[:1], None, [MMDataSample(metainfo=dict(img_id=4))])
    diff = (again[0].pred_image.int() - pair[1].pred_image.int()).abs()
    assert diff.max() <= 2 and diff.float().mean() < 0.05
    # seeds: base + integer id; other ids through CRC-32 (stable between processes)
    assert sample_seed(5, MMDataSample(metainfo=dict(img_id=7))) == 12
    assert sample_seed(5, MMDataSample(metainfo=dict(img_id='7'))) == 12
    assert sample_seed(0, MMDataSample(metainfo=dict(img_id='a.png'))) == zlib.crc32(b'a.png')
    assert sample_seed(5, MMDataSample()) == 5


def test_classifier_free_guidance_formula():
    decoder = MODELS.build(_cfg('gen_tiny.py', 'gen_decoder')).eval()
    x = torch.randn(1, 3, 32, 32)
    t = torch.tensor(500)
    assert decoder.coord_channels  # the UNet sees x, y besides the image
    ctx = decoder.map_links(torch.randn(1, 1, 8, C), torch.ones(1, 1, dtype=torch.bool))
    with torch.no_grad():
        cond = decoder._unet(x, t, ctx)
        uncond = decoder._unet(x, t, decoder._null_like(ctx))
        guided = decoder._guided_output(x, t, ctx, None, dict(guidance_scale=3.0))
        plain = decoder._guided_output(x, t, ctx, None, dict(guidance_scale=1.0))
    assert torch.allclose(guided, uncond + 3.0 * (cond - uncond), atol=1e-4)
    assert torch.allclose(plain, cond, atol=1e-5)


def test_edit_dual_guidance_and_dropout():
    decoder = MODELS.build(_cfg('edit_tiny.py', 'edit_decoder')).eval()
    x = torch.randn(1, 3, 32, 32)
    src = torch.randn(1, 3, 32, 32)
    t = torch.tensor(300)
    ctx = decoder.map_links(torch.randn(1, 1, 8, C), torch.ones(1, 1, dtype=torch.bool))
    null = decoder._null_like(ctx)
    with torch.no_grad():
        full = decoder._unet(x, t, ctx, src)
        image_only = decoder._unet(x, t, null, src)
        none = decoder._unet(x, t, null, torch.zeros_like(src))
        guided = decoder._guided_output(x, t, ctx, src,
                                        dict(guidance_scale=4.0, image_guidance_scale=1.5))
    expected = none + 1.5 * (image_only - none) + 4.0 * (full - image_only)
    assert torch.allclose(guided, expected, atol=1e-4)

    # InstructPix2Pix dropout: text only / both / image only, each with probability p
    decoder.cond_drop_prob = 0.25
    n = 4000
    context = torch.ones(n, 16, 64)
    source = torch.ones(n, 3, 2, 2)
    decoder.null_context.data.zero_()
    new_ctx, new_src = decoder._drop_conditions(context, source)
    text_dropped = new_ctx[:, 0, 0] == 0
    image_dropped = new_src[:, 0, 0, 0] == 0
    rates = [(text_dropped & ~image_dropped).float().mean(),
             (text_dropped & image_dropped).float().mean(),
             (~text_dropped & image_dropped).float().mean()]
    for rate in rates:
        assert abs(rate.item() - 0.25) < 0.03


def test_edit_loss_and_prediction_size():
    # plain InstructPix2Pix (a zero-initialised residual output passes no gradient on step 1)
    decoder = MODELS.build(_cfg('edit_tiny.py', 'edit_decoder', source_residual=False))
    links = torch.randn(1, 1, 8, C, requires_grad=True)
    mask = torch.ones(1, 1, dtype=torch.bool)
    source = torch.randint(0, 256, (3, 48, 40), dtype=torch.uint8)
    loss = decoder.loss(links, mask, [source], _samples(1))['loss_noise']
    loss.backward()
    assert links.grad.abs().sum() > 0
    out = decoder.eval().predict(links.detach(), mask, [source], [MMDataSample()])
    assert out[0].pred_image.shape == (3, 48, 40)
    with pytest.raises(ValueError, match='source image'):
        decoder.predict(links.detach(), mask, [None], [MMDataSample()])


def test_prediction_targets_follow_the_scheduler():
    decoder = MODELS.build(_cfg('gen_tiny.py', 'gen_decoder'))
    x0, noise = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    t = torch.tensor([10, 900])
    assert torch.equal(decoder._prediction_target(x0, noise, t), x0)  # tiny config: 'sample'
    decoder.noise_scheduler.register_to_config(prediction_type='epsilon')
    assert torch.equal(decoder._prediction_target(x0, noise, t), noise)
    decoder.noise_scheduler.register_to_config(prediction_type='v_prediction')
    velocity = decoder.noise_scheduler.get_velocity(x0, noise, t)
    assert torch.equal(decoder._prediction_target(x0, noise, t), velocity)


def test_edit_source_residual_starts_at_the_do_nothing_edit():
    links = torch.randn(1, 1, 8, C)
    mask = torch.ones(1, 1, dtype=torch.bool)
    # larger than the decoder's 32 px: the residual build adds its change to the full-size source
    source = torch.randint(0, 256, (3, 48, 40), dtype=torch.uint8)
    outputs = {}
    for residual in (True, False):
        decoder = MODELS.build(_cfg('edit_tiny.py', 'edit_decoder', source_residual=residual))
        decoder.test_cfg.update(guidance_scale=1.0, image_guidance_scale=1.0)
        decoder.init_weights()
        assert (not decoder.unet.conv_out.weight.any()) == residual  # zero-initialised output
        decoder.unet.conv_out.weight.data.zero_()  # both UNets predict 0
        decoder.unet.conv_out.bias.data.zero_()
        out = decoder.eval().predict(links, mask, [source], [MMDataSample()])
        outputs[residual] = (out[0].pred_image.int() - source.int()).abs()
        if residual:  # only the zero output convolution learns on the first step
            decoder.train().loss(links, mask, [source], _samples(1, 32))['loss_noise'].backward()
            assert decoder.unet.conv_out.weight.grad.abs().sum() > 0
    # x0 = source: the source comes back at its own resolution, not blurred through 32 px
    assert outputs[True].max() <= 1 and outputs[True].float().mean() < 0.01
    assert outputs[False].float().mean() > 30  # x0 = 0: a flat grey image
    with pytest.raises(ValueError, match='source_residual=True needs'):
        cfg = _cfg('edit_tiny.py', 'edit_decoder', source_residual=True)
        cfg['noise_scheduler']['prediction_type'] = 'epsilon'
        MODELS.build(cfg)


def test_edit_source_residual_adds_its_change_to_the_full_size_source():
    decoder = MODELS.build(_cfg('edit_tiny.py', 'edit_decoder'))
    assert decoder.source_residual
    decoder.test_cfg.update(guidance_scale=1.0, image_guidance_scale=1.0)
    decoder.unet.conv_out.bias.data.fill_(0.2)  # weights stay zero: x0 = source + 0.2 everywhere
    source = torch.randint(0, 200, (3, 48, 40), dtype=torch.uint8)  # + 0.2 stays inside [-1, 1]
    links, mask = torch.randn(1, 1, 8, C), torch.ones(1, 1, dtype=torch.bool)
    out = decoder.eval().predict(links, mask, [source], [MMDataSample()])[0].pred_image
    change = out.int() - source.int()  # 0.2 of the [-1, 1] range is 25.5 grey levels
    assert out.shape == source.shape and change.min() >= 25 and change.max() <= 26


def test_sample_without_caption_is_named():
    decoder = MODELS.build(_cfg('gen_tiny.py', 'gen_decoder'))
    sample = MMDataSample(metainfo=dict(img_path='t2i/000042.png'))
    sample.gt_image = torch.zeros(3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"'t2i/000042.png'.*no caption"):
        decoder.loss(torch.zeros(1, 1, 8, C), torch.ones(1, 1, dtype=torch.bool), None, [sample])
