# VisionLLMv2, tiny and random-init (CPU tests and the embedded ShapesWorld benchmark).
# Tiny CLIP (64 px tiles, a conv stem of stride 8 -> 64 tokens per tile, 3 layers) + tiny LLaMA
# (hidden 256, 4 layers) with the ShapesWorld word-level tokenizer. No decoders: short configs add
# them, e.g.
#   model = dict(decoders=dict(det=dict(type=...), pose=dict(type=...)))
# Parameter-name prefixes for optim_wrapper.paramwise_cfg.custom_keys: 'vision_encoder', 'projector',
# 'llm' ('lora_' for LoRA matrices), 'region_encoder', 'super_link.query_tables', 'decoders.<group>'.
# The tower has a convolutional stem in place of its patchify conv: from scratch on a few thousand
# images a plain tiny ViT does not learn shapes (models/vision_encoders/conv_stem.py). The demo
# pre-trains it on the training captions first (visionllmv2_tiny_shapesworld_vision_pretrain.py,
# which builds this same `tiny_vision_encoder`).
tiny_vision_encoder = dict(
    type='CLIPVisionEncoder',
    config=dict(
        image_size=64,
        patch_size=8,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=3,
        num_attention_heads=4),
    conv_stem=dict(type='ConvStem', channels=(32, 64, 128)),
    select_layer=-2,
    num_region_layers=3)
model = dict(
    type='VisionLLMv2',
    data_preprocessor=dict(type='VisionLLMv2DataPreprocessor'),
    vision_encoder=tiny_vision_encoder,
    projector=dict(type='MLPProjector'),
    llm=dict(
        type='HFCausalLM',
        tokenizer_path='{{$SHAPESWORLD_ROOT:data/shapesworld/}}tokenizer',
        config=dict(
            model_type='llama',
            hidden_size=256,
            intermediate_size=688,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=2048,
            tie_word_embeddings=False),
        lora=None,
        gradient_checkpointing=False),
    region_encoder=dict(type='MaskPointRegionEncoder', stem_channels=32, num_points=32),
    # Role tokens instead of Vicuna's "USER:"/"ASSISTANT:" text: the word-level tokenizer lower-cases.
    template=dict(
        type='ConversationTemplate',
        system='',
        system_separator='',
        user_prefix='<|user|> ',
        assistant_prefix=' <|assistant|>',
        role_tokens=('<|user|>', '<|assistant|>'),
        add_bos=True),
    decoders=dict(),
    frozen_components=('vision_encoder', ),
    predict_mode='teacher_forced',
    max_new_tokens=64)
