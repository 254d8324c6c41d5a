"""VQAv2-format question/answer files as VQA conversations (task ``vqa``).

Reads the two official VQAv2 files (questions: ``questions[*].{question_id, image_id, question}``;
annotations: ``annotations[*].{question_id, image_id, multiple_choice_answer, answers[10]}``) with
MMEngine's ``BaseDataset`` (data_root/prefix joining, serialisation, test mode). Images are found
from the image id with ``img_name_template`` (``'COCO_train2014_{image_id:012d}.jpg'`` for real
VQAv2, ``'{image_id:06d}.png'`` for ShapesWorld). The sample keeps ``question_id`` and the ten
``gt_answers`` for the VQA accuracy metric. A question without an answer record is an error unless
``answer_file`` is None (test-dev style, test mode only).
"""
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .annotation_checks import AnnotationError, load_json_file, require_keys
from .conversation_mixin import ConversationDatasetMixin

__all__ = ['VQAv2ConversationDataset']


@DATASETS.register_module()
class VQAv2ConversationDataset(ConversationDatasetMixin, BaseDataset):
    """VQA samples: ``"<image>\\nhow many stars are there?\\nAnswer the question using a single word
    or phrase."`` → ``"2"``.

    Args:
        ann_file (str): VQAv2 questions json.
        answer_file (str, optional): VQAv2 annotations json (relative to ``data_root`` like
            ``ann_file``). Required for training.
        img_name_template (str): ``str.format`` template of the image file name from ``image_id``.
        **kwargs: MMEngine ``BaseDataset`` / ``ConversationDatasetMixin`` arguments
            (``data_prefix=dict(img=...)``).
    """

    SUPPORTED_TASKS = ('vqa', )

    def __init__(self,
                 *args,
                 answer_file: Optional[str] = None,
                 img_name_template: str = 'COCO_val2014_{image_id:012d}.jpg',
                 **kwargs) -> None:
        self.answer_file = answer_file
        self.img_name_template = img_name_template
        super().__init__(*args, **kwargs)

    def _answer_path(self) -> Optional[str]:
        if self.answer_file is None or osp.isabs(self.answer_file) or not self.data_root:
            return self.answer_file
        return osp.join(self.data_root, self.answer_file)

    def load_data_list(self) -> List[dict]:
        """Join questions and answers by ``question_id``."""
        questions = load_json_file(self.ann_file)
        require_keys(questions, ('questions', ), self.ann_file)
        answer_path = self._answer_path()
        answers: Dict[int, dict] = {}
        if answer_path is None:
            if not self.test_mode:
                raise ValueError(f'{type(self).__name__}: answer_file is required for training')
        else:
            annotations = load_json_file(answer_path)
            require_keys(annotations, ('annotations', ), answer_path)
            for k, ann in enumerate(annotations['annotations']):
                require_keys(ann, ('question_id', ), f'{answer_path}: annotation {k}')
                if ann['question_id'] in answers:
                    raise AnnotationError(f'{answer_path}: question_id={ann["question_id"]} has '
                                          'more than one answer record')
                answers[ann['question_id']] = ann
            unknown = set(answers) - {q['question_id'] for q in questions['questions']}
            if unknown:
                raise AnnotationError(f'{answer_path}: answers for question ids not in '
                                      f'{self.ann_file}: {sorted(unknown)[:10]}')
        data_list = []
        seen_questions = set()
        for i, question in enumerate(questions['questions']):
            where = f'{self.ann_file}: question {i}'
            require_keys(question, ('question_id', 'image_id', 'question'), where)
            if question['question_id'] in seen_questions:
                raise AnnotationError(f'{where}: question_id={question["question_id"]} is used '
                                      'more than once')
            seen_questions.add(question['question_id'])
            data_info = {
                'img_path':
                osp.join(
                    self.data_prefix.get('img', ''),
                    self.img_name_template.format(image_id=question['image_id'])),
                'img_id':
                question['image_id'],
                'question_id':
                question['question_id'],
                'question':
                question['question'],
                'answer':
                '',
                'gt_answers': [],
            }
            if answer_path is not None:
                answer = answers.get(question['question_id'])
                if answer is None:
                    raise AnnotationError(f'{where} (question_id={question["question_id"]}) has no '
                                          f'answer record in {answer_path}')
                require_keys(answer, ('multiple_choice_answer', 'answers', 'image_id'),
                             f'{answer_path}: question_id={question["question_id"]}')
                if answer['image_id'] != question['image_id']:
                    raise AnnotationError(
                        f'{answer_path}: question_id={question["question_id"]} has image_id='
                        f'{answer["image_id"]} but the question has {question["image_id"]}')
                if not isinstance(answer['answers'], list) or not answer['answers'] or any(
                        not isinstance(a, dict) or 'answer' not in a for a in answer['answers']):
                    raise AnnotationError(
                        f'{answer_path}: question_id={question["question_id"]} has "answers" '
                        f'{answer["answers"]!r}; VQA accuracy needs a non-empty list of '
                        '{"answer": ...} records')
                data_info['answer'] = answer['multiple_choice_answer']
                data_info['gt_answers'] = [a['answer'] for a in answer['answers']]
                data_info['question_type'] = answer.get('question_type', '')
                data_info['answer_type'] = answer.get('answer_type', '')
            data_list.append(data_info)
        return data_list

    def build_conversation(self, data_info: Dict[str, Any]) -> Dict[str, Any]:
        """Question in a VQA phrasing; answer = the most common human answer."""
        question = self.instruction(question=data_info['question'].strip())
        return {'conversation': self.two_turns(question, data_info['answer']), 'target_names': []}
