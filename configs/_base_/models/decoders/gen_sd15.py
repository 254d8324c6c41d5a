# Real-scale [GEN] decoder of VisionLLM v2: Stable Diffusion 1.5 driven by 64 link embeddings.
# Link mapper: 64 x 4096 -> Linear+GELU+Linear -> 2-layer transformer with 77 learnable queries -> the
# 77 x 768 context (12 heads of 64, from the UNet's cross-attention width: 16 for SD 2.x) that replaces SD's CLIP text embeddings; loss = noise MSE + 0.1 x MSE between that
# context and the caption's CLIP text embedding (text_encoder below, frozen). Every part loads from a
# local diffusers-layout folder (no hub access), e.g. `save_pretrained` of
# runwayml/stable-diffusion-v1-5:
#   checkpoints/stable-diffusion-v1-5/{unet,vae,scheduler,text_encoder,tokenizer}/
# Use as `decoders=dict(gen={{_base_.gen_decoder}})`; `in_channels` (LLM width) is filled by the core.
# Named per decoder (not `sd15_path`): gen_sd15.py and edit_sd15.py inherit together.
gen_sd15_path = 'checkpoints/stable-diffusion-v1-5'
gen_decoder = dict(
    type='TextToImageDecoder',
    routing_tokens=('[GEN]', ),
    num_queries=64,
    image_size=512,
    unet=dict(type='UNet2DConditionModel', pretrained=gen_sd15_path, subfolder='unet'),
    vae=dict(type='AutoencoderKL', pretrained=gen_sd15_path, subfolder='vae'),
    # SD 1.5's scheduler/ holds a PNDM config; DDPMScheduler reads its betas and prediction type.
    noise_scheduler=dict(type='DDPMScheduler', pretrained=gen_sd15_path, subfolder='scheduler'),
    sample_scheduler=dict(type='DPMSolverMultistepScheduler'),  # or dict(type='DDIMScheduler')
    text_encoder=dict(type='CLIPTextModel', pretrained=gen_sd15_path, subfolder='text_encoder'),
    tokenizer=dict(type='CLIPTokenizer', pretrained=gen_sd15_path, subfolder='tokenizer'),
    link_mapper=dict(type='LinkMapper', num_queries=77, num_layers=2),
    cond_drop_prob=0.1,
    text_align_weight=0.1,
    gradient_checkpointing=True,
    test_cfg=dict(num_inference_steps=25, guidance_scale=7.5, seed=0))
