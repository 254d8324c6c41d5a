"""Shared behaviour of every mmvisionllm dataset: task name, instruction template, error context.

Mixed in front of an MMEngine/mmdet dataset class (``class X(ConversationDatasetMixin,
CocoDataset)``): the base class loads the annotation file as usual, the mixin adds the conversation
of architecture section 1 to each sample right before the pipeline runs (so a new template is drawn
every time a training sample is used) and re-raises pipeline failures with the dataset, sample
index, image and annotation file in the message.
"""
from typing import Any, Dict, Optional, Sequence

from .instruction_templates import format_instruction, select_template_index
from .official_formats import ANSWER_FORMATS, official_turns
from .task_definitions import IMAGE_TOKEN
from .task_registry import TASKS

__all__ = ['DatasetSampleError', 'ConversationDatasetMixin']


class DatasetSampleError(RuntimeError):
    """A sample could not be prepared; the message names the dataset, index, image and ann file."""


class ConversationDatasetMixin:
    """Adds ``task``, ``conversation`` and ``target_names`` to every sample.

    Subclasses set ``SUPPORTED_TASKS`` and implement :meth:`build_conversation`.

    Args:
        task (str): Task name; must be one of the class's ``SUPPORTED_TASKS``.
        template_index (int, optional): Always use this instruction phrasing. By default training
            samples draw one at random and test samples use phrasing 0.
        dataset_name (str, optional): ``dataset_name`` written into every sample (default: the
            metainfo's ``dataset_name`` or the class name).
        answer_format (str): ``'mmvisionllm'`` (this project's phrasings) or ``'official'`` (the
            official release's evaluation phrasings, :mod:`.official_formats`, for its
            checkpoint).
        *args, **kwargs: Passed to the dataset base class.
    """

    SUPPORTED_TASKS: Sequence[str] = ()

    def __init__(self,
                 *args,
                 task: Optional[str] = None,
                 template_index: Optional[int] = None,
                 dataset_name: Optional[str] = None,
                 answer_format: str = 'mmvisionllm',
                 **kwargs) -> None:
        if answer_format not in ANSWER_FORMATS:
            raise ValueError(f'answer_format must be one of {ANSWER_FORMATS}, got '
                             f'{answer_format!r}')
        self.answer_format = answer_format
        task = task or self.SUPPORTED_TASKS[0]
        if task not in self.SUPPORTED_TASKS:
            raise ValueError(f'{type(self).__name__} supports tasks {tuple(self.SUPPORTED_TASKS)}, '
                             f'got task={task!r}')
        self.task = task
        self.task_spec = TASKS.get(task)
        self.decoder_group = self.task_spec.group
        self.template_index = template_index
        self.dataset_name = dataset_name
        super().__init__(*args, **kwargs)

    def get_task(self, idx: int) -> str:
        """Task of sample ``idx`` (all samples of a dataset share it); used by the batch sampler."""
        return self.task

    def choose_template(self, task: Optional[str] = None) -> int:
        """Index of the instruction phrasing for the next sample (0 in test mode)."""
        task = task or self.task
        return select_template_index(
            len(TASKS.get(task).templates), self.test_mode, self.template_index)

    @property
    def routing_token(self) -> str:
        """The routing token written after each target name of this dataset's task."""
        token = self.task_spec.routing_token
        if token is None:
            raise ValueError(f'task {self.task!r} declares no routing token')
        return token

    def instruction(self, with_image: bool = True, **fields: str) -> str:
        """The human turn: ``<image>\\n`` (if the sample has an image) + a filled phrasing."""
        text = format_instruction(self.task, self.choose_template(), **fields)
        return f'{IMAGE_TOKEN}\n{text}' if with_image else text

    def official_conversation(self, with_image: bool = True, **kwargs) -> list:
        """The one-round conversation in the official format (``official_turns`` kwargs; the task
        and its routing token are this dataset's)."""
        question, answer = official_turns(self.task, routing_token=self.routing_token, **kwargs)
        return self.two_turns(f'{IMAGE_TOKEN}\n{question}' if with_image else question, answer)

    @staticmethod
    def two_turns(question: str, answer: str) -> list:
        """A one-round LLaVA conversation."""
        return [{'from': 'human', 'value': question}, {'from': 'gpt', 'value': answer}]

    def build_conversation(self, data_info: Dict[str, Any]) -> Dict[str, Any]:
        """Return the keys to add to ``data_info``: at least ``conversation`` and ``target_names``.

        Args:
            data_info (dict): The sample's annotation (a deep copy; may be read freely).

        Returns:
            dict: Keys merged into ``data_info`` before the pipeline (may replace ``instances``).
        """
        raise NotImplementedError

    def prepare_data(self, idx: int) -> Any:
        """Annotation → conversation → pipeline, with the sample named in any error."""
        data_info = self.get_data_info(idx)
        try:
            data_info.update(self.build_conversation(data_info))
            data_info['task'] = self.task
            data_info.setdefault(
                'dataset_name', self.dataset_name
                or self.metainfo.get('dataset_name',
                                     type(self).__name__))
            return self.pipeline(data_info)
        except DatasetSampleError:
            raise
        except Exception as error:
            raise DatasetSampleError(
                f'{type(self).__name__}(task={self.task!r}, ann_file={self.ann_file!r}) failed on '
                f'sample {idx} (img_path={data_info.get("img_path")!r}, '
                f'img_id={data_info.get("img_id")!r}): {type(error).__name__}: {error}') from error
