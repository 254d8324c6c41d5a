"""Declared tasks: name, decoder group, routing token(s), instruction templates, ground-truth keys.

Every task a dataset may name is declared once with :func:`register_task`: the core declares its
own tasks in :mod:`.task_definitions`, a plugin declares its new task in its own module (imported
through ``custom_imports``), so nothing in ``mmvisionllm/`` lists the tasks a plugin may add.
The datasets (templates, routing token of the answers), ``PackMultimodalInputs`` (ground-truth
keys, ``link_tokens``) and ``TaskGroupedBatchSampler`` (decoder groups) read the declarations here.

Plain Python: mmengine's ``Registry`` maps names to classes to build, while a task is a record of
names and strings shared by datasets, transforms and samplers, with a rule (a task declared twice
must be declared the same way) that a class registry does not check.
"""
import importlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['TaskSpec', 'TaskRegistry', 'TASKS', 'register_task']


@dataclass(frozen=True)
class TaskSpec:
    """The declaration of one task.

    Attributes:
        name (str): Task name written into every sample (``'det'``, ``'count'``...).
        group (str): Decoder group; a training batch holds the tasks of one group.
        routing_tokens (tuple[str]): Routing tokens the answers of the task use (the first one is
            written after each target name); empty for the text tasks.
        templates (tuple[str]): Instruction phrasings (``{field}`` placeholders filled by the
            dataset); phrasing 0 is the test one.
        gt_keys (tuple[str]): Keys of the pipeline results the packer copies into the sample's
            metainfo for this task (its ground truth beyond ``gt_instances``/``gt_image``).
        image_free (bool): The task's decoder works without an input image.
    """

    name: str
    group: str
    routing_tokens: Tuple[str, ...] = ()
    templates: Tuple[str, ...] = ()
    gt_keys: Tuple[str, ...] = ()
    image_free: bool = False

    @property
    def routing_token(self) -> Optional[str]:
        """The routing token written after each target name, or None for a text task."""
        return self.routing_tokens[0] if self.routing_tokens else None


class TaskRegistry:
    """The declared tasks, in declaration order (the core's first)."""

    def __init__(self, core_module: Optional[str] = None) -> None:
        self._tasks: Dict[str, TaskSpec] = {}
        self._core_module = core_module

    def _load_core(self) -> None:
        """Import the module declaring the core's tasks once, so they come first."""
        if self._core_module is not None:
            module, self._core_module = self._core_module, None
            importlib.import_module(module)

    def register(self, spec: TaskSpec) -> TaskSpec:
        """Declare a task; declaring it again identically is a no-op.

        Raises:
            ValueError: If the task is already declared differently, or one of its routing tokens
                belongs to a task of another decoder group.
        """
        self._load_core()
        known = self._tasks.get(spec.name)
        if known is not None:
            if known != spec:
                differences = [
                    f'{field}: {getattr(known, field)!r} vs {getattr(spec, field)!r}'
                    for field in ('group', 'routing_tokens', 'templates', 'gt_keys', 'image_free')
                    if getattr(known, field) != getattr(spec, field)
                ]
                raise ValueError(f'task {spec.name!r} is declared twice, differently '
                                 f'({"; ".join(differences)})')
            return known
        for token in spec.routing_tokens:
            owner = self.task_of_token(token)
            if owner is not None and owner.group != spec.group:
                raise ValueError(
                    f'task {spec.name!r} (group {spec.group!r}) declares routing token {token}, '
                    f'which task {owner.name!r} of group {owner.group!r} already uses')
        self._tasks[spec.name] = spec
        return spec

    def get(self, name: str) -> TaskSpec:
        """The declaration of a task.

        Raises:
            KeyError: If the task is not declared (the message lists the declared ones and says
                how to declare one).
        """
        self._load_core()
        if name not in self._tasks:
            raise KeyError(f'Unknown task {name!r}; known tasks: {sorted(self._tasks)}. A plugin '
                           'declares a new task with mmvisionllm.datasets.register_task(...)')
        return self._tasks[name]

    def __contains__(self, name: str) -> bool:
        self._load_core()
        return name in self._tasks

    def names(self) -> List[str]:
        """Declared task names in declaration order."""
        self._load_core()
        return list(self._tasks)

    def groups(self) -> List[str]:
        """Decoder groups in order of first declaration."""
        self._load_core()
        return list(dict.fromkeys(spec.group for spec in self._tasks.values()))

    def task_of_token(self, token: str) -> Optional[TaskSpec]:
        """The first task whose answers use ``token``, or None."""
        self._load_core()
        for spec in self._tasks.values():
            if token in spec.routing_tokens:
                return spec
        return None

    def routing_tokens(self) -> List[str]:
        """Every declared routing token, in declaration order."""
        self._load_core()
        return list(dict.fromkeys(t for spec in self._tasks.values() for t in spec.routing_tokens))

    def unregister(self, name: str) -> None:
        """Remove a declaration (tests that declare a task in a temporary plugin)."""
        self._tasks.pop(name, None)


#: The process-wide task declarations.
TASKS = TaskRegistry(core_module='mmvisionllm.datasets.core_tasks')


def register_task(name: str,
                  group: str,
                  routing_tokens: Sequence[str] = (),
                  templates: Sequence[str] = (),
                  gt_keys: Sequence[str] = (),
                  image_free: bool = False) -> TaskSpec:
    """Declare a task (see :class:`TaskSpec`); call it at import time of the plugin module.

    Example:
        >>> register_task('count', group='count', routing_tokens=('[CNT]', ),
        ...               templates=('Count the {classes} in the image.', ),
        ...               gt_keys=('gt_counts', ))
    """
    if isinstance(routing_tokens, str) or isinstance(templates, str) \
            or isinstance(gt_keys, str):
        raise TypeError(f'register_task({name!r}): routing_tokens, templates and gt_keys are '
                        'sequences of strings, not one string')
    return TASKS.register(
        TaskSpec(
            name=name,
            group=group,
            routing_tokens=tuple(routing_tokens),
            templates=tuple(templates),
            gt_keys=tuple(gt_keys),
            image_free=bool(image_free)))
