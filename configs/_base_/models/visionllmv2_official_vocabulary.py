# The vocabulary and query layout of the official VisionLLM v2 release (OpenGVLab/VisionLLM,
# VisionLLMv2/, commit 148cc93), as facts for configs that load its checkpoint:
# * 26 special tokens appended after Vicuna's 32000 pieces in this order (ids 32000-32025);
# * '<image>' in a prompt becomes '<im_patch>' x (576 x tiles); padding uses '<unk>' (id 0);
# * a perception routing token is followed by [EMB] [EMB2] [EMB3] [EMB4] (four distinct ids), a
#   generation/editing token by 64 x [EMB] (one id repeated);
# * [DET], [SEG] and [GRD] share one query table (official `emb_embeddings_det`), [POSE] has
#   `emb_embeddings_pose`, [GEN] `emb_embeddings_gen`, [EDIT] `emb_embeddings_edit`.
official_special_tokens = [
    '[PAD]', '<image>', '<im_patch>', '<region>', '<img>', '</img>', '<reg>', '</reg>', '<det>',
    '</det>', '<grd>', '</grd>', '[DET]', '[GRD]', '[SEG]', '[POSE]', '[GEN]', '[EDIT]', '[EMB]',
    '[EMB2]', '[EMB3]', '[EMB4]', '[EMB5]', '[EMB6]', '[EMB7]', '[EMB8]'
]
official_perception_placeholders = ['[EMB]', '[EMB2]', '[EMB3]', '[EMB4]']
official_generation_placeholders = ['[EMB]'] * 64
official_query_placeholders = dict(
    det=official_perception_placeholders,
    pose=official_perception_placeholders,
    gen=official_generation_placeholders,
    edit=official_generation_placeholders)
# the four tables of the official LLM side; a configured decoder of the group must agree
official_query_tables = dict(
    det=dict(routing_tokens=('[DET]', '[SEG]', '[GRD]'), num_queries=4),
    pose=dict(routing_tokens=('[POSE]', ), num_queries=4),
    gen=dict(routing_tokens=('[GEN]', ), num_queries=64),
    edit=dict(routing_tokens=('[EDIT]', ), num_queries=64))
