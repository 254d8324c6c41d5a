# Real-scale [EDIT] decoder of VisionLLM v2: InstructPix2Pix on Stable Diffusion 1.5, driven by 64 link
# embeddings (same link mapper and auxiliary caption loss as gen_sd15.py; the caption is the edit
# instruction). The source image latent is concatenated to the noisy latent (8 input channels):
#   * from SD 1.5 (below): the 4-channel UNet is widened, the 4 new input channels start at zero;
#   * from an InstructPix2Pix folder (timbrooks/instruct-pix2pix saved locally): point `edit_ip2p_path`
#     at it, its UNet already has 8 input channels.
# Use as `decoders=dict(edit={{_base_.edit_decoder}})`; `in_channels` is filled by the core.
# Named per decoder (not `sd15_path`): gen_sd15.py and edit_sd15.py inherit together.
edit_sd15_path = 'checkpoints/stable-diffusion-v1-5'
edit_ip2p_path = edit_sd15_path
edit_decoder = dict(
    type='InstructEditDecoder',
    routing_tokens=('[EDIT]', ),
    num_queries=64,
    image_size=512,
    unet=dict(type='UNet2DConditionModel', pretrained=edit_ip2p_path, subfolder='unet'),
    vae=dict(type='AutoencoderKL', pretrained=edit_sd15_path, subfolder='vae'),
    noise_scheduler=dict(type='DDPMScheduler', pretrained=edit_sd15_path, subfolder='scheduler'),
    sample_scheduler=dict(type='DDIMScheduler'),
    text_encoder=dict(type='CLIPTextModel', pretrained=edit_sd15_path, subfolder='text_encoder'),
    tokenizer=dict(type='CLIPTokenizer', pretrained=edit_sd15_path, subfolder='tokenizer'),
    link_mapper=dict(type='LinkMapper', num_queries=77, num_layers=2),
    caption_key='edit_instruction',
    cond_drop_prob=0.05,
    text_align_weight=0.1,
    gradient_checkpointing=True,
    test_cfg=dict(num_inference_steps=25, guidance_scale=7.5, image_guidance_scale=1.5, seed=0))
