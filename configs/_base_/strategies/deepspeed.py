# DeepSpeed ZeRO through mmengine's FlexibleRunner + DeepSpeedStrategy (docs/en/distributed.md).
# This file only defines variables; a config picks one strategy and the optimiser wrapper, e.g.
#   _base_ = ['./visionllmv2_7b_coco_stage2.py', '../_base_/strategies/deepspeed.py']
#   runner_type = 'FlexibleRunner'
#   strategy = {{_base_.deepspeed_zero3}}
#   optim_wrapper = dict(_delete_=True, type='DeepSpeedOptimWrapper',
#                        optimizer={{_base_.optim_wrapper.optimizer}})
# bf16 compute (the paper trains in bf16) through DeepSpeed's torch_autocast: the weights stay
# fp32, the forward runs under torch.autocast(bfloat16), and the gradients of Linear/Conv weights
# are reduced in bf16 (DeepSpeed's default lower_precision_safe_modules). Not `bf16=dict(enabled=
# True)`: that casts the whole model to bf16 and leaves the inputs and the tensors the modules make
# (mmdet's images, position embeddings, masks) in fp32, and the decoders failed on the first step
# ("Input type (torch.FloatTensor) and weight type (CPUBFloat16Type) should be the same" at the
# detector's backbone); mmengine's inputs_to_half casts every tensor of an input key, token ids
# and uint8 images included. Gradient clipping is DeepSpeed's (DeepSpeedOptimWrapper takes no
# clip_grad). train_micro_batch_size_per_gpu comes from train_dataloader.batch_size (mmengine
# fills it in). Needs `pip install deepspeed` (docs/en/distributed.md: what runs on a CPU).
deepspeed_common = dict(
    type='DeepSpeedStrategy',
    config=dict(torch_autocast=dict(enabled=True, dtype='bfloat16')),
    gradient_clipping=1.0,
    # the decoders of the other groups and the frozen CLIP tower have no gradient in a step
    exclude_frozen_parameters=True)
# ZeRO-2: optimizer states and gradients sharded, bf16 weights replicated (7B: 14 GB per GPU
# plus activations; optimizer states 12 bytes/param / N GPUs)
zero2_optimization = dict(
    stage=2,
    overlap_comm=True,
    contiguous_gradients=True,
    allgather_bucket_size=2e8,
    reduce_bucket_size=2e8)
# ZeRO-3: weights sharded too (stage 1, full LLM: 16 bytes/param / N GPUs + gathered layers);
# stage3_gather_16bit_weights_on_model_save writes a consolidated bf16 state dict on save
zero3_optimization = dict(
    stage=3,
    overlap_comm=True,
    contiguous_gradients=True,
    reduce_bucket_size=5e8,
    stage3_prefetch_bucket_size=5e8,
    stage3_param_persistence_threshold=1e5,
    stage3_gather_16bit_weights_on_model_save=True)
cpu_offload = dict(device='cpu', pin_memory=True)
deepspeed_zero2 = dict(deepspeed_common, zero_optimization=zero2_optimization)
# ZeRO-2 with the optimizer states (fp32 master weights, Adam moments) in CPU memory
deepspeed_zero2_offload = dict(
    deepspeed_common, zero_optimization=dict(zero2_optimization, offload_optimizer=cpu_offload))
deepspeed_zero3 = dict(deepspeed_common, zero_optimization=zero3_optimization)
# ZeRO-3 with optimizer states and weights in CPU memory (one GPU can train the 7B LLM, slowly)
deepspeed_zero3_offload = dict(
    deepspeed_common,
    zero_optimization=dict(
        zero3_optimization, offload_optimizer=cpu_offload, offload_param=cpu_offload))
