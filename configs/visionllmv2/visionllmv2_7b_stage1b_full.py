# VisionLLM v2, 7B, stage 1b (LLaVA-style instruction tuning), CLIP-L-336 + Vicuna-7B v1.5.
# Trains: the whole LLM (new token rows included), the projector and the region encoder, all at
#   lr 2e-5 (cosine, 3% warm-up).
# Frozen: CLIP. No decoders.
# Data: LLaVA-1.5's 665K instruction mix, VQAv2 train, region-level conversations.
# Val/test: VQAv2 val2014 (VQA accuracy).
# Start: load_from=<stage 1a's last checkpoint> (projector + region encoder; the frozen parts come
#   from the folders). The whole LLM trains, so its checkpoints are full-size (38 GiB with AdamW
#   state, tools/analysis_tools/stage_params.py); merge the last one into a folder for stage 2:
#     python tools/model_converters/merge_lora.py CONFIG CKPT --hf-dir checkpoints/stage1b-llm
# Next: visionllmv2_7b_coco_stage2.py with model.llm.pretrained_path=checkpoints/stage1b-llm and
#   load_from=<this checkpoint> (projector, region encoder).
_base_ = ['./visionllmv2_7b_stage1a_projector.py']

model = dict(frozen_components=('vision_encoder', ))

train_dataloader = dict(
    batch_size=16,
    dataset=dict(datasets=[{{_base_.llava_mix_train}}, {{_base_.vqav2_train}},
                           {{_base_.region_caption_train}}]))

optim_wrapper = dict(optimizer=dict(lr=2e-5))
max_iters = 5200  # one pass over 665K + VQAv2 at batch 128 (8 GPUs x 16)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.03, by_epoch=False, begin=0, end=156),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=156, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
