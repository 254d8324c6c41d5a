# visionllmv2_7b_coco_stage2.py under DeepSpeed ZeRO-2 (FlexibleRunner + DeepSpeedStrategy, bf16
# autocast):
# optimizer states and gradients sharded over the GPUs (docs/en/distributed.md). For the optimizer
# states in CPU memory, take deepspeed_zero2_offload of the fragment.
#   tools/dist_train.sh configs/visionllmv2/visionllmv2_7b_coco_stage2_zero2.py 8
_base_ = ['./visionllmv2_7b_coco_stage2.py', '../_base_/strategies/deepspeed.py']
# fp32 weights: DeepSpeed's torch_autocast (the fragment) computes in bf16 and keeps no fp32
# master copy, so bf16 weights would be updated in bf16
model = dict(llm=dict(torch_dtype=None), vision_encoder=dict(torch_dtype=None))
runner_type = 'FlexibleRunner'
strategy = {{_base_.deepspeed_zero2}}
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}},
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
model_wrapper_cfg = None
