# visionllmv2_7b_coco_stage2.py under PyTorch FSDP (FlexibleRunner + FSDPStrategy, bf16 autocast
# over fp32 units, one unit per LLM/CLIP layer and per decoder backbone/encoder/decoder; rank 0
# saves one consolidated checkpoint that tools/test.py loads; docs/en/distributed.md).
#   tools/dist_train.sh configs/visionllmv2/visionllmv2_7b_coco_stage2_fsdp.py 8
_base_ = ['./visionllmv2_7b_coco_stage2.py', '../_base_/strategies/fsdp.py']
# fp32 weights: an FSDP unit flattens its parameters into one tensor of one dtype, and the root unit
# holds the LLM embeddings beside the fp32 projector; the compute is bf16 through autocast
model = dict(llm=dict(torch_dtype=None), vision_encoder=dict(torch_dtype=None))
runner_type = 'FlexibleRunner'
strategy = {{_base_.fsdp_strategy}}
optim_wrapper = dict(
    _delete_=True,
    type='ShardedGradClipOptimWrapper',  # clip by the norm over all shards
    dtype='bfloat16',  # the forward under bf16 autocast over the fp32 units
    optimizer={{_base_.optim_wrapper.optimizer}},
    clip_grad={{_base_.optim_wrapper.clip_grad}},
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
model_wrapper_cfg = None
