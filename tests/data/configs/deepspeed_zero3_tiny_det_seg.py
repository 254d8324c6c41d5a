# deepspeed_tiny_det_seg.py with ZeRO-3: the parameters are partitioned over the two ranks too
# (DS_ACCELERATOR=cpu, gloo, fp32; tests/test_dist/test_ddp_cpu.py). The stage-3 settings that
# matter on this tiny model: no parameter stays replicated (persistence threshold 0), and no
# 16-bit gather on save (fp32 training: tools/model_converters/consolidate_checkpoint.py gathers
# the fp32 partitions).
_base_ = ['./deepspeed_tiny_det_seg.py']
strategy = dict(
    zero_optimization=dict(
        _delete_=True,
        stage=3,
        stage3_param_persistence_threshold=0,
        stage3_gather_16bit_weights_on_model_save=False))
