# [GEN] decoder with the released VisionLLM v2 `sd.` wrapper's layout, to load its checkpoint: the
# official link mapper (nn.Transformer, 1 encoder + 1 decoder layer, ReLU, 8 heads, 77 queries),
# the frozen text encoder's embedding of '' as the guidance null condition, frozen SD-1.5 UNet.
# The UNet, VAE and text encoder are built from SD-1.5's shapes (their weights come from the
# converted checkpoint: sd.sd_unet.* -> unet.*, sd.sd_vae.* -> codec.vae.*,
# sd.sd_text_encoder.* -> text_encoder.*); only the CLIP tokenizer is read from a local SD-1.5
# folder (its tokenizer/ subfolder; $VLV2_SD15_PATH overrides the path). Sampling: DDIM here; the
# official wrapper samples with the SD pipeline's own scheduler (PNDM for SD-1.5).
# Use as `decoders=dict(gen={{_base_.gen_official_decoder}})`; `in_channels` is filled by the core.
gen_official_sd15_path = '{{$VLV2_SD15_PATH:checkpoints/stable-diffusion-v1-5}}'
gen_official_unet = dict(
    type='UNet2DConditionModel',
    sample_size=64,
    in_channels=4,
    out_channels=4,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=('CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D',
                      'DownBlock2D'),
    up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'),
    layers_per_block=2,
    attention_head_dim=8,
    cross_attention_dim=768,
    norm_num_groups=32,
    norm_eps=1e-5,
    flip_sin_to_cos=True,
    freq_shift=0,
    downsample_padding=1,
    act_fn='silu')
gen_official_vae = dict(
    type='AutoencoderKL',
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    block_out_channels=(128, 256, 512, 512),
    down_block_types=('DownEncoderBlock2D', ) * 4,
    up_block_types=('UpDecoderBlock2D', ) * 4,
    layers_per_block=2,
    norm_num_groups=32,
    act_fn='silu',
    sample_size=512)
gen_official_text_encoder = dict(
    type='CLIPTextModel',
    vocab_size=49408,
    hidden_size=768,
    intermediate_size=3072,
    num_hidden_layers=12,
    num_attention_heads=12,
    max_position_embeddings=77,
    hidden_act='quick_gelu',
    layer_norm_eps=1e-5,
    projection_dim=768)
gen_official_noise_scheduler = dict(
    type='DDPMScheduler',
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule='scaled_linear',
    clip_sample=False,
    steps_offset=1)
gen_official_decoder = dict(
    type='OfficialTextToImageDecoder',
    routing_tokens=('[GEN]', ),
    num_queries=64,
    image_size=512,
    unet=gen_official_unet,
    vae=gen_official_vae,
    text_encoder=gen_official_text_encoder,
    tokenizer=dict(type='CLIPTokenizer', pretrained=gen_official_sd15_path, subfolder='tokenizer'),
    noise_scheduler=gen_official_noise_scheduler,
    sample_scheduler=dict(type='DDIMScheduler'),
    link_mapper=dict(type='OfficialLinkMapper', num_queries=77),
    test_cfg=dict(num_inference_steps=50, guidance_scale=7.5, seed=0))
