"""Text layout of LLaVA-style conversations (Vicuna v1 by default).

The template only decides *where text goes*: which strings surround each human question and each
answer, and which of them the LM loss supervises. Turning text into token ids (and inserting image,
region and query placeholders) is :class:`ConversationTokenizer`'s job.

Layout of a conversation ``[human q1, gpt a1, human q2, gpt a2]``::

    <bos> {system}{system_separator}{user_prefix}q1{assistant_prefix} | a1 <eos> |
          {user_prefix}q2{assistant_prefix} | a2 <eos> |

Only the answers and their end-of-turn token are supervised. HF chat templates (Jinja strings
owned by a tokenizer) are not used: they render one string and lose which part is an answer, and
VisionLLM v2 needs that per-segment supervision mask.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence

from mmvisionllm.registry import MODELS

__all__ = ['ConversationTemplate', 'TemplateTurn']


@dataclass
class TemplateTurn:
    """One rendered exchange: the prompt text (not supervised) and the answer (supervised, or None
    when the answer is still to be generated)."""

    prompt: str
    answer: Optional[str]


@MODELS.register_module()
class ConversationTemplate:
    """Renders LLaVA turns into prompt/answer text pieces.

    Args:
        system (str): System message put before the first question. Defaults to Vicuna v1's.
        system_separator (str): Text between the system message and the first question.
        user_prefix (str): Text before each human turn.
        assistant_prefix (str): Text after each human turn, before the answer.
        role_tokens (Sequence[str]): Strings of the prefixes that must be single special tokens
            (e.g. ``('<|user|>', '<|assistant|>')`` for a word-level tokenizer); the LLM adds them
            to its vocabulary.
        add_bos (bool): Whether the sequence starts with the tokenizer's BOS token (when it has
            one).
    """

    VICUNA_SYSTEM = (
        "A chat between a curious user and an artificial intelligence assistant. The "
        "assistant gives helpful, detailed, and polite answers to the user's questions.")

    def __init__(self,
                 system: str = VICUNA_SYSTEM,
                 system_separator: str = ' ',
                 user_prefix: str = 'USER: ',
                 assistant_prefix: str = ' ASSISTANT:',
                 role_tokens: Sequence[str] = (),
                 add_bos: bool = True) -> None:
        self.system = system
        self.system_separator = system_separator
        self.user_prefix = user_prefix
        self.assistant_prefix = assistant_prefix
        self.role_tokens = tuple(role_tokens)
        self.add_bos = add_bos

    def render(self,
               conversation: Sequence[dict],
               drop_last_answer: bool = False) -> List[TemplateTurn]:
        """Render a conversation into turns.

        Args:
            conversation (Sequence[dict]): LLaVA turns ``{'from': 'human'|'gpt', 'value': str}``
                starting with ``human``. A human turn not followed by a gpt turn has no answer yet
                (it is to be generated).
            drop_last_answer (bool): Leave the last answer out (to generate it instead).

        Returns:
            list[TemplateTurn]: One entry per human turn.
        """
        turns = list(conversation)
        if not turns:
            raise ValueError('empty conversation: it needs at least one human turn')
        if drop_last_answer and turns[-1].get('from') == 'gpt':
            turns = turns[:-1]
        rendered: List[TemplateTurn] = []
        for index, turn in enumerate(turns):
            role = turn.get('from')
            if role == 'human':
                prefix = ''
                if index == 0 and self.system:
                    prefix = self.system + self.system_separator
                prompt = f'{prefix}{self.user_prefix}{turn["value"]}{self.assistant_prefix}'
                rendered.append(TemplateTurn(prompt=prompt, answer=None))
            elif role == 'gpt' and rendered and rendered[-1].answer is None:
                rendered[-1].answer = turn['value']
            else:
                raise ValueError(
                    f'conversation turn {index} is from {role!r}: a conversation starts '
                    'with a human turn and each gpt turn answers the human turn before it '
                    f'({turns!r})')
        return rendered
