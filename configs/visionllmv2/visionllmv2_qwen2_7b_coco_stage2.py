# VisionLLM v2, stage 2 with a Qwen2-7B-Instruct LLM (second LLM family): the same recipe, data,
# evaluation and trainable parts as visionllmv2_7b_coco_stage2.py (LoRA r32/alpha64 + token rows at
# lr 1e-5, decoders + query tables at 1e-4; CLIP, projector, region encoder frozen), with Qwen2's
# folder and ChatML layout (configs/_base_/models/visionllmv2_qwen2_7b.py).
# Stages 1a/1b/3 take Qwen2 the same way: add that base and these two model lines.
_base_ = ['./visionllmv2_7b_coco_stage2.py', '../_base_/models/visionllmv2_qwen2_7b.py']

model = dict(llm=dict(pretrained_path={{_base_.qwen2_path}}), template={{_base_.qwen2_template}})
