# visionllmv2_7b_coco_stage2.py under DeepSpeed ZeRO-3 (FlexibleRunner + DeepSpeedStrategy, bf16
# autocast):
# weights, gradients and optimizer states sharded (the strategy of stage 1, where the whole LLM
# trains; docs/en/distributed.md). With CPU offload of states and weights:
# deepspeed_zero3_offload of the fragment.
#   tools/dist_train.sh configs/visionllmv2/visionllmv2_7b_coco_stage2_zero3.py 8
_base_ = ['./visionllmv2_7b_coco_stage2.py', '../_base_/strategies/deepspeed.py']
# fp32 weights: DeepSpeed's torch_autocast (the fragment) computes in bf16 and keeps no fp32
# master copy, so bf16 weights would be updated in bf16
model = dict(llm=dict(torch_dtype=None), vision_encoder=dict(torch_dtype=None))
runner_type = 'FlexibleRunner'
strategy = {{_base_.deepspeed_zero3}}
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}},
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
model_wrapper_cfg = None
