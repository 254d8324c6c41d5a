# The same stage 3 with the LLM frozen outright (no LoRA): only the [CNT] decoder and its query
# table train. Teacher-forced evaluation only: a frozen LM head never learns to emit [CNT]
# itself, so chat cannot route to it (use the LoRA config for that).
_base_ = ['./visionllmv2_tiny_count_stage3_shapesworld.py']

model = dict(
    llm=dict(lora=None),
    frozen_components=('vision_encoder', 'projector', 'region_encoder', 'llm', 'decoders.det',
                       'decoders.pose', 'decoders.gen', 'decoders.edit',
                       'super_link.query_tables.det', 'super_link.query_tables.pose',
                       'super_link.query_tables.gen', 'super_link.query_tables.edit'))
