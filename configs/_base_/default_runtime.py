default_scope = 'mmvisionllm'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # stop at the first NaN/inf loss, naming the iteration and the loss (mmvisionllm.engine.hooks)
    finite_loss=dict(type='FiniteLossHook'),
    # random generators in every checkpoint, restored on --resume (a resumed run is the same run)
    rng_state=dict(type='RNGStateHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # 'auto': nccl with CUDA, gloo on a CPU (mmvisionllm.utils.dist_compat)
    dist_cfg=dict(backend='auto'),
)

vis_backends = [dict(type='LocalVisBackend')]
# mmdet's DetLocalVisualizer + mmpose's keypoints, generated images and the conversation
visualizer = dict(
    type='mmvisionllm.VisionLLMVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
