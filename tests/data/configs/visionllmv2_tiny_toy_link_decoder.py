# The shipped tiny VisionLLMv2 plus a decoder plugin that exists only in the tests
# (tests/data/toy_link_decoder.py): it is found through custom_imports, the core is not edited.
_base_ = ['../../../configs/_base_/models/visionllmv2_tiny.py']

custom_imports = dict(imports=['toy_link_decoder'], allow_failed_imports=False)

model = dict(
    decoders=dict(
        det=dict(type='ToyPointLinkDecoder', routing_tokens=('[DET]', '[GRD]'), num_queries=4)))
