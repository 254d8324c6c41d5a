# Tiny [GEN] decoder (random init, CPU-trainable) for 64-px ShapesWorld scenes, same structure as
# gen_sd15.py: link mapper (Linear+GELU+Linear -> 1-layer transformer with 16 learnable queries) ->
# the cross-attention context of a small diffusers UNet2DConditionModel. Pixel space (vae=None): no
# autoencoder to train first. Two things make a UNet this small follow its condition quickly: it
# pools the context into its time embedding (diffusers' addition_embed_type='text'), and it sees
# pixel-coordinate channels (coord_channels=True, CoordConv) so it can place objects from pure noise.
# Prediction type 'sample' (x0) memorises a scene far faster on a CPU than 'epsilon'; the loss is the
# MSE to the scheduler's target either way (epsilon for the real SD decoder).
# The paper's auxiliary loss (0.1 x MSE between the mapped context and the caption's text-encoder
# embedding) is on, with a tiny random-init CLIPTextModel (frozen) over the ShapesWorld tokenizer:
# without it the [GEN] links hardly depend on the prompt and the UNet learns one image for every
# prompt (docs/en/training_recipe.md).
# Use as `decoders=dict(gen={{_base_.gen_decoder}})`; `in_channels` (LLM width) is filled by the core.
gen_image_size = 64
gen_unet = dict(
    type='UNet2DConditionModel',
    sample_size=gen_image_size,
    in_channels=5,  # image + 2 coordinate channels
    out_channels=3,
    block_out_channels=(16, 32, 64, 64),
    down_block_types=('DownBlock2D', 'DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'),
    up_block_types=('CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'),
    layers_per_block=1,
    norm_num_groups=8,
    attention_head_dim=8,
    cross_attention_dim=64,
    addition_embed_type='text',
    addition_embed_type_num_heads=4)
gen_noise_scheduler = dict(
    type='DDPMScheduler',
    num_train_timesteps=1000,
    beta_schedule='squaredcos_cap_v2',
    prediction_type='sample',
    clip_sample=True)
gen_decoder = dict(
    type='TextToImageDecoder',
    routing_tokens=('[GEN]', ),
    num_queries=8,
    image_size=gen_image_size,
    unet=gen_unet,
    vae=None,
    noise_scheduler=gen_noise_scheduler,
    sample_scheduler=dict(type='DDIMScheduler'),
    link_mapper=dict(type='LinkMapper', num_queries=16, num_layers=1, num_heads=4),
    text_encoder=dict(
        type='CLIPTextModel',
        vocab_size=512,  # >= the ShapesWorld vocabulary (checked when the decoder is built)
        hidden_size=64,  # = cross_attention_dim
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=16,  # = link_mapper.num_queries
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3),
    tokenizer=dict(
        type='AutoTokenizer', pretrained='{{$SHAPESWORLD_ROOT:data/shapesworld/}}tokenizer'),
    text_align_weight=0.1,
    coord_channels=True,
    cond_drop_prob=0.1,
    test_cfg=dict(num_inference_steps=20, guidance_scale=1.5, seed=0))
