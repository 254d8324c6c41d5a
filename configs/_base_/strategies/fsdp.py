# PyTorch FSDP through mmengine's FlexibleRunner + FSDPStrategy (docs/en/distributed.md).
# Variables only; a config picks them:
#   _base_ = ['./visionllmv2_7b_coco_stage2.py', '../_base_/strategies/fsdp.py']
#   runner_type = 'FlexibleRunner'
#   strategy = {{_base_.fsdp_strategy}}
#   optim_wrapper = dict(_delete_=True, type='ShardedGradClipOptimWrapper', dtype='bfloat16',
#                        clip_grad=dict(max_norm=1.0),
#                        optimizer={{_base_.optim_wrapper.optimizer}})
# Units: the LLM's and CLIP's layers and the decoders' backbone/encoder/decoder/UNet
# (mmvisionllm.engine.visionllm_wrap_policy). use_orig_params: the CLIP tower is frozen while its
# neighbours train, and FSDP's flat parameters need one requires_grad each otherwise; it also keeps
# the parameter names that paramwise_cfg and the checkpoints use. state_dict_cfg='full': rank 0
# saves one consolidated state dict (CPU offloaded) that tools/test.py and the inferencer load
# as a plain checkpoint. Runs over gloo on a CPU too.
# Weights in fp32 (model.llm/vision_encoder torch_dtype=None): a unit flattens its parameters into
# one tensor of one dtype. bf16 compute is autocast: the optimizer wrapper's dtype='bfloat16' runs
# the forward under torch.autocast over fp32 units (param_dtype float32); FSDP's mixed precision
# only reduces the gradients in bf16 (buffers bf16). Not param_dtype=bf16: FSDP casts a unit's
# parameters, not the tensors the unit makes, and the decoders failed on the first step (fp32
# images into the backbone's bf16 weights; with cast_forward_inputs, fp32 tensors built in the
# Grounding DINO encoder); docs/en/distributed.md has the measured runs.
# ShardedGradClipOptimWrapper: mmengine's OptimWrapper would clip each rank's gradient shard by its
# own norm (mmvisionllm/engine/sharded_optim_wrapper.py).
fsdp_wrapper = dict(
    type='MMFullyShardedDataParallel',
    use_orig_params=True,
    auto_wrap_policy=dict(type='mmvisionllm.visionllm_wrap_policy'))
fsdp_strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        fsdp_wrapper,
        mixed_precision=dict(
            param_dtype='float32', reduce_dtype='bfloat16', buffer_dtype='bfloat16')),
    state_dict_cfg='full')
# FSDP in fp32 on a CPU over gloo (what tests/test_dist/test_fsdp_cpu.py trains). The full state
# dict is gathered without offload_to_cpu: with the parameters already on the CPU, torch 2.13
# clones the gathered tensors after freeing them and segfaults ('full' sets offload_to_cpu=True).
fsdp_cpu_strategy = dict(
    type='FSDPStrategy',
    model_wrapper=fsdp_wrapper,
    state_dict_cfg=dict(
        state_dict_type='FULL_STATE_DICT',
        state_dict_config=dict(type='FullStateDictConfig', rank0_only=True, offload_to_cpu=False),
        optim_state_dict_config=dict(
            type='FullOptimStateDictConfig', rank0_only=True, offload_to_cpu=False)))
