"""The LLM side of VisionLLMv2: HF causal LM + tokenizer, special tokens, LoRA, conversations."""
from .conversation_template import ConversationTemplate, TemplateTurn
from .conversation_tokenizer import (IGNORE_INDEX, ConversationTokenizer, EncodedConversation,
                                     EncodedTurn)
from .grounding_bert import BatchEncodePlusTokenizer, GroundingBertModel
from .hf_causal_lm import HFCausalLM
from .local_checkpoint import check_local_checkpoint
from .lora import apply_lora
from .special_tokens import add_special_tokens_with_mean_init
from .tiny_text_encoder import build_tiny_text_encoder, text_encoder_vocabulary

__all__ = [
    'ConversationTemplate', 'TemplateTurn', 'ConversationTokenizer', 'EncodedConversation',
    'EncodedTurn', 'IGNORE_INDEX', 'HFCausalLM', 'check_local_checkpoint', 'apply_lora',
    'add_special_tokens_with_mean_init', 'GroundingBertModel', 'BatchEncodePlusTokenizer',
    'build_tiny_text_encoder', 'text_encoder_vocabulary'
]
