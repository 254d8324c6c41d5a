# Plain DDP (mmengine Runner): stage 2 (LoRA + decoders) and stage 3 (decoders + query tables) of
# the 7B model, where every GPU holds the whole bf16 model (docs/en/distributed.md).
# find_unused_parameters: a step runs one decoder group, the other decoders get no gradient.
# On a CPU the same config runs over gloo (mmvisionllm.utils.dist_compat).
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
