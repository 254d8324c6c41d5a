# Tiny [EDIT] decoder (random init, CPU-trainable), InstructPix2Pix-style in pixel space: the source
# image (3 channels) is concatenated to the noisy image (3 channels), plus 2 coordinate channels
# (coord_channels=True, see gen_tiny.py), so the UNet takes 8 input channels.
# Otherwise the same UNet, schedulers and link mapper as gen_tiny.py; dual guidance at sampling.
# source_residual: the UNet predicts the change to the source (x0 = source + UNet), so the untrained
# decoder starts at the do-nothing edit; image guidance 1.0 keeps that start (see InstructEditDecoder).
# Like gen_tiny.py (and edit_sd15.py) the mapped context is aligned to the text encoder's embedding of
# the edit instruction. The text encoder dict repeats gen_tiny.py's: the demo config inherits both
# files and mmengine does not allow two bases to share a variable.
# Use as `decoders=dict(edit={{_base_.edit_decoder}})`; `in_channels` is filled by the core.
edit_image_size = 64
edit_decoder = dict(
    type='InstructEditDecoder',
    routing_tokens=('[EDIT]', ),
    num_queries=8,
    image_size=edit_image_size,
    unet=dict(
        type='UNet2DConditionModel',
        sample_size=edit_image_size,
        in_channels=8,  # noisy + source image + 2 coordinate channels
        out_channels=3,
        block_out_channels=(16, 32, 64, 64),
        down_block_types=('DownBlock2D', 'DownBlock2D', 'CrossAttnDownBlock2D',
                          'CrossAttnDownBlock2D'),
        up_block_types=('CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'),
        layers_per_block=1,
        norm_num_groups=8,
        attention_head_dim=8,
        cross_attention_dim=64,
        addition_embed_type='text',
        addition_embed_type_num_heads=4),
    vae=None,
    noise_scheduler=dict(
        type='DDPMScheduler',
        num_train_timesteps=1000,
        beta_schedule='squaredcos_cap_v2',
        prediction_type='sample',
        clip_sample=True),
    sample_scheduler=dict(type='DDIMScheduler'),
    link_mapper=dict(type='LinkMapper', num_queries=16, num_layers=1, num_heads=4),
    text_encoder=dict(
        type='CLIPTextModel',
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=16,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3),
    tokenizer=dict(
        type='AutoTokenizer', pretrained='{{$SHAPESWORLD_ROOT:data/shapesworld/}}tokenizer'),
    caption_key='edit_instruction',
    text_align_weight=0.1,
    coord_channels=True,
    cond_drop_prob=0.05,
    source_residual=True,
    test_cfg=dict(num_inference_steps=20, guidance_scale=1.5, image_guidance_scale=1.0, seed=0))
