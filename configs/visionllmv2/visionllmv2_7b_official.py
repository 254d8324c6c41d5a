# VisionLLM v2 7B with the official release's layout, to load its checkpoint after conversion:
#   python tools/model_converters/visionllmv2_to_mmvisionllm.py OFFICIAL_DIR OUT_DIR
#   (writes OUT_DIR/visionllmv2.pth and OUT_DIR/tokenizer)
#   python tools/test.py configs/visionllmv2/visionllmv2_7b_official.py \
#       OUT_DIR/visionllmv2.pth --cfg-options model.llm.tokenizer_path=OUT_DIR/tokenizer
# CLIP-L/14-336 and Vicuna-7B are built from their shapes (no pretrained folders: every weight
# comes from the converted checkpoint); bf16 as the official eval scripts. The official vocabulary,
# placeholders and query tables: ../_base_/models/visionllmv2_official_vocabulary.py.
# Official name -> ours (tools/model_converters/visionllmv2_to_mmvisionllm.py):
#   vis_encoder.* -> vision_encoder.clip.*      vl_bridge.{0,2}.* -> projector.layers.{0,2}.*
#   llm.*         -> llm.model.*
#   emb_embeddings_<g>.weight -> super_link.query_tables.<g>.weight (g: det, pose, gen, edit)
#   region_encoder.* -> region_encoder.*, gdino.* -> decoders.det.*, unipose.* -> decoders.pose.*,
#   sd.* -> decoders.gen.*, ip2p.* -> decoders.edit.* (each part's convert_official_state_dict)
_base_ = [
    '../_base_/models/visionllmv2_7b.py', '../_base_/models/visionllmv2_official_vocabulary.py',
    '../_base_/models/decoders/gen_sd15_official.py',
    '../_base_/models/decoders/edit_ip2p_official.py'
]

official_clip = dict(
    hidden_size=1024,
    intermediate_size=4096,
    num_hidden_layers=24,
    num_attention_heads=16,
    patch_size=14,
    image_size=336,
    hidden_act='quick_gelu',
    layer_norm_eps=1e-5,
    projection_dim=768)
official_llm = dict(
    model_type='llama',
    hidden_size=4096,
    intermediate_size=11008,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=32,
    max_position_embeddings=4096,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    tie_word_embeddings=False)

# The CLIP view as the official `dynamic_preprocess` (PIL bicubic, up to 4 tiles + thumbnail), for
# dataset pipelines evaluating this model (with answer_format='official' on the datasets).
official_clip_tiling = dict(type='DynamicTiling', tile_size=336, max_tiles=4, backend='pillow')

# The official-compatible parts (out_channels / vision_channels / grid_size / num_vision_layers of
# the region encoder and every decoder's in_channels are filled in by VisionLLMv2 from the towers).
# Region encoder (`region_encoder.*`): k7 s7 stem 4 -> 64 -> 256 -> CLIP width, added to the last
# three CLIP levels, up to 2304 mask points, `up_dim` to the LLM width, mean over the levels.
official_region_encoder = dict(
    _delete_=True, type='OfficialRegionEncoder', stem_channels=256, patch_size=14, num_points=2304)
# Grounding DINO-T with the mask branch (`gdino.*`); `transformer` = GroundingDinoConfig overrides
# (the values of the release, equal to transformers' defaults, written out for the reader).
official_det_decoder = dict(
    type='OfficialGroundingDinoDecoder',
    routing_tokens=('[DET]', '[SEG]', '[GRD]'),
    num_queries=4,
    mask_dim=256,
    transformer=dict(
        num_queries=900, d_model=256, max_text_len=256, positional_embedding_temperature=20),
    test_topk=100)
# UNIPOSE SEAM: UniPose-T (`unipose.*` -> decoders.pose): mmdet's Swin-T, 68 body points, 50
# pose groups after 2 box-only decoder layers, 50 instances kept per image (the release's
# `num_select`); `transformer` = GroundingDinoConfig overrides, the release's values written out.
# dn_number=100: the release trains UniPose with 100 contrastive denoising queries per polarity
# (its train.py sets `unipose_config.dn_number = 100`; label noise 0.5, box noise 1.0, labels
# drawn among the 100 object slots: the class's defaults), so training from this config follows
# the release; they exist in training only (prediction and the parity checks never build them).
official_pose_decoder = dict(
    type='OfficialUniPoseDecoder',
    routing_tokens=('[POSE]', ),
    num_queries=4,
    num_body_points=68,
    num_box_decoder_layers=2,
    num_groups=50,
    dn_number=100,
    transformer=dict(
        num_queries=900,
        d_model=256,
        encoder_layers=6,
        decoder_layers=6,
        positional_embedding_temperature=20),
    test_topk=50)
official_decoders = dict(
    det=official_det_decoder,
    pose=official_pose_decoder,
    gen={{_base_.gen_official_decoder}},
    edit={{_base_.edit_official_decoder}})
# ---------------------------------------------------------------------------------------------

model = dict(
    vision_encoder=dict(pretrained_path=None, config=official_clip, torch_dtype='bfloat16'),
    llm=dict(
        pretrained_path=None,
        tokenizer_path='{{$VLV2_TOKENIZER:checkpoints/visionllmv2-7b-mmvisionllm/tokenizer}}',
        config=official_llm,
        pad_token='<unk>',
        torch_dtype='bfloat16',
        lora=None,
        gradient_checkpointing=False),
    region_encoder=official_region_encoder,
    decoders=official_decoders,
    query_tables={{_base_.official_query_tables}},
    special_tokens={{_base_.official_special_tokens}},
    image_patch_token='<im_patch>',
    query_placeholders={{_base_.official_query_placeholders}},
    image_free_groups=('gen', ),
    frozen_components=('vision_encoder', ),
    predict_mode='teacher_forced')
