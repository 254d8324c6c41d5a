# [EDIT] decoder with the released VisionLLM v2 `ip2p.` wrapper's layout, to load its checkpoint:
# InstructPix2Pix (SD-1.5 shapes, UNet with 8 input channels, trained), the official link mapper
# and null condition (see gen_sd15_official.py), the source image conditioning on the unscaled VAE
# posterior mode, 5 % text / both / image condition dropout. Components are built from their
# shapes (weights from the converted checkpoint: ip2p.sd_unet.* -> unet.*, ip2p.sd_vae.* ->
# codec.vae.*, ip2p.sd_text_encoder.* -> text_encoder.*); the tokenizer is read from a local
# folder ($VLV2_IP2P_PATH). Sampling: DDIM with dual guidance; the official wrapper uses the IP2P
# pipeline's own scheduler. The component dicts repeat gen_sd15_official.py's: a config
# inheriting both files cannot share a variable between them.
# Use as `decoders=dict(edit={{_base_.edit_official_decoder}})`; the core fills `in_channels`.
edit_official_ip2p_path = '{{$VLV2_IP2P_PATH:checkpoints/instruct-pix2pix}}'
edit_official_decoder = dict(
    type='OfficialInstructEditDecoder',
    routing_tokens=('[EDIT]', ),
    num_queries=64,
    image_size=512,
    unet=dict(
        type='UNet2DConditionModel',
        sample_size=64,
        in_channels=8,  # noisy latent + source latent
        out_channels=4,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=('CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D',
                          'DownBlock2D'),
        up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D',
                        'CrossAttnUpBlock2D'),
        layers_per_block=2,
        attention_head_dim=8,
        cross_attention_dim=768,
        norm_num_groups=32,
        norm_eps=1e-5,
        flip_sin_to_cos=True,
        freq_shift=0,
        downsample_padding=1,
        act_fn='silu'),
    vae=dict(
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
        sample_size=512),
    text_encoder=dict(
        type='CLIPTextModel',
        vocab_size=49408,
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        max_position_embeddings=77,
        hidden_act='quick_gelu',
        layer_norm_eps=1e-5,
        projection_dim=768),
    tokenizer=dict(type='CLIPTokenizer', pretrained=edit_official_ip2p_path, subfolder='tokenizer'),
    noise_scheduler=dict(
        type='DDPMScheduler',
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule='scaled_linear',
        steps_offset=1),
    sample_scheduler=dict(type='DDIMScheduler'),
    link_mapper=dict(type='OfficialLinkMapper', num_queries=77),
    test_cfg=dict(num_inference_steps=50, guidance_scale=7.5, image_guidance_scale=1.5, seed=0))
