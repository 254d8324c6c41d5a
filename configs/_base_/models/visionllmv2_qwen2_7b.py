# The Qwen2 LLM of VisionLLM v2 (variables only: a stage config adds them to its model), e.g.
#   _base_ = ['./visionllmv2_7b_coco_stage2.py', '../_base_/models/visionllmv2_qwen2_7b.py']
#   model = dict(llm=dict(pretrained_path={{_base_.qwen2_path}}), template={{_base_.qwen2_template}})
# Qwen2-7B-Instruct (Qwen2's BPE tokenizer, tokenizer.json) with its ChatML conversation layout.
# Qwen2-0.5B/1.5B (tied input/output embeddings) load the same way from their folder. Qwen2 pads its
# embedding beyond the tokenizer (152064 rows for 151646 tokens): the added tokens take padding
# rows, mean-initialised.
qwen2_path = 'checkpoints/qwen2-7b-instruct'  # Qwen/Qwen2-7B-Instruct, save_pretrained folder
qwen2_template = dict(
    type='ConversationTemplate',
    system='<|im_start|>system\nYou are a helpful assistant.<|im_end|>',
    system_separator='\n',
    user_prefix='<|im_start|>user\n',
    assistant_prefix='<|im_end|>\n<|im_start|>assistant\n',
    add_bos=False)
