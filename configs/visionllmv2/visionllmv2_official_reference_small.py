# The reduced-width official model of the parity reference (/work/vlv2_ref/reference/config.json):
# LLaMA hidden 128 / intermediate 256 / 2 layers / 4 heads / vocab 32026 (untied), CLIP hidden 64 /
# intermediate 128 / 3 layers / 4 heads (patch 14, 336 px, quick_gelu), fp32. Grounding DINO and
# UniPose stay at real size there; the SD/IP2P mappers are 32 wide. The tokenizer has to be a
# 32000-piece Vicuna-shaped one (the reference uses synthetic ids; the parity tool writes a
# word-level stand-in). Used by tools/analysis_tools/official_parity.py and
# tests/test_models/test_official/.
_base_ = ['./visionllmv2_7b_official.py']

# The SD / IP2P wrappers of the reference: 32-wide mappers and the tiny components of
# checkpoints/*-small (config.json -> reference_info.sd_components).
_small_unet = dict(
    _delete_=True,
    type='UNet2DConditionModel',
    sample_size=8,
    in_channels=4,
    out_channels=4,
    block_out_channels=(32, 64),
    down_block_types=('CrossAttnDownBlock2D', 'DownBlock2D'),
    up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D'),
    layers_per_block=1,
    attention_head_dim=4,
    cross_attention_dim=32)
_small_vae = dict(
    _delete_=True,
    type='AutoencoderKL',
    block_out_channels=(32, 32),
    down_block_types=('DownEncoderBlock2D', ) * 2,
    up_block_types=('UpDecoderBlock2D', ) * 2,
    layers_per_block=1,
    sample_size=32)
_small_text_encoder = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    projection_dim=32)
_small_tokenizer = '{{$VLV2_SD_TOKENIZER:checkpoints/stable-diffusion-v1-5-small/tokenizer}}'
_small_decoders = dict(
    gen=dict(
        image_size=32,
        unet=_small_unet,
        vae=_small_vae,
        text_encoder=_small_text_encoder,
        tokenizer=dict(pretrained=_small_tokenizer, subfolder=None)),
    edit=dict(
        image_size=32,
        unet=dict(_small_unet, in_channels=8),
        vae=_small_vae,
        text_encoder=_small_text_encoder,
        tokenizer=dict(pretrained=_small_tokenizer, subfolder=None)))

model = dict(
    decoders=_small_decoders,
    vision_encoder=dict(
        config=dict(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=3,
            num_attention_heads=4,
            projection_dim=32),
        torch_dtype=None),
    llm=dict(
        tokenizer_path='{{$VLV2_TOKENIZER:checkpoints/visionllmv2-reference-small/tokenizer}}',
        config=dict(
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4),
        torch_dtype=None,
        attn_implementation='eager'))
