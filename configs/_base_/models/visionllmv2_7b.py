# VisionLLMv2 at the paper's scale: CLIP ViT-L/14-336 (frozen, layer -2, 576 tokens per tile) ->
# MLP 1024 -> 4096 -> 4096 -> Vicuna-7B v1.5, Vicuna v1 conversation template.
# Weights come from local `save_pretrained` directories only (no hub access):
#   checkpoints/clip-vit-large-patch14-336   (openai/clip-vit-large-patch14-336)
#   checkpoints/vicuna-7b-v1.5               (lmsys/vicuna-7b-v1.5, model + tokenizer)
# A Qwen2 LLM works the same way: point `llm.pretrained_path` at its directory.
# No decoders here: the stage configs in configs/visionllmv2/ add them.
model = dict(
    type='VisionLLMv2',
    data_preprocessor=dict(type='VisionLLMv2DataPreprocessor', max_length=4096),
    vision_encoder=dict(
        type='CLIPVisionEncoder',
        pretrained_path='checkpoints/clip-vit-large-patch14-336',
        select_layer=-2,
        num_region_layers=3,
        torch_dtype='bfloat16'),
    projector=dict(type='MLPProjector'),
    llm=dict(
        type='HFCausalLM',
        pretrained_path='checkpoints/vicuna-7b-v1.5',
        torch_dtype='bfloat16',
        attn_implementation='sdpa',
        lora=None,
        gradient_checkpointing=True),
    region_encoder=dict(type='MaskPointRegionEncoder', stem_channels=256, num_points=64),
    template=dict(type='ConversationTemplate'),  # Vicuna v1
    decoders=dict(),
    frozen_components=('vision_encoder', ),
    predict_mode='teacher_forced',
    max_new_tokens=256)
