"""VQAv2 answer normalisation (the rules of the official VQA evaluation, written anew).

Lower-case; drop punctuation (the official 21 characters; a period only when it is not a decimal
point); number words → digits; drop articles; expand a fixed table of contractions written without
apostrophe. Unlike the official script, which normalises only the questions whose human answers
differ, the prediction and the human answers are always normalised (as lmms-eval and EvalAI
pre-process predictions): "Yes." scores like "yes".
"""
import re

__all__ = ['normalize_vqa_answer']

_NUMBER_WORDS = {
    'none': '0',
    'zero': '0',
    'one': '1',
    'two': '2',
    'three': '3',
    'four': '4',
    'five': '5',
    'six': '6',
    'seven': '7',
    'eight': '8',
    'nine': '9',
    'ten': '10'
}
_ARTICLES = {'a', 'an', 'the'}
_CONTRACTIONS = {
    'aint': "ain't",
    'arent': "aren't",
    'cant': "can't",
    'couldnt': "couldn't",
    'didnt': "didn't",
    'doesnt': "doesn't",
    'dont': "don't",
    'hadnt': "hadn't",
    'hasnt': "hasn't",
    'havent': "haven't",
    'hes': "he's",
    'im': "i'm",
    'isnt': "isn't",
    'itll': "it'll",
    'ive': "i've",
    'lets': "let's",
    'shouldnt': "shouldn't",
    'thats': "that's",
    'theres': "there's",
    'theyre': "they're",
    'wasnt': "wasn't",
    'werent': "weren't",
    'whats': "what's",
    'wont': "won't",
    'wouldnt': "wouldn't",
    'youre': "you're"
}
# the official list (21 characters): apostrophes, colons, '$' ... stay, so "don't" (a human answer)
# and "dont" (expanded by _CONTRACTIONS) meet, and "10:30" stays a time
_PUNCTUATION = set(';/[]"{}()=+\\_-><@`,?!')
_PERIOD_NOT_DECIMAL = re.compile(r'(?!<=\d)(\.)(?!\d)')
_COMMA_IN_NUMBER = re.compile(r'(\d)(,)(\d)')


def _strip_punctuation(text: str) -> str:
    out = text
    for char in _PUNCTUATION:
        if (char + ' ' in text or ' ' + char in text) or _COMMA_IN_NUMBER.search(text):
            out = out.replace(char, '')
        else:
            out = out.replace(char, ' ')
    return _PERIOD_NOT_DECIMAL.sub('', out)


def normalize_vqa_answer(answer: str) -> str:
    """Normalise an answer the way VQAv2 accuracy compares answers.

    Args:
        answer (str): A predicted or human answer.

    Returns:
        str: The normalised answer, e.g. ``'Two dogs.'`` → ``'2 dogs'``.
    """
    text = _strip_punctuation(answer.replace('\n', ' ').replace('\t', ' ').strip().lower())
    words = []
    for word in text.split():
        word = _NUMBER_WORDS.get(word, word)
        if word in _ARTICLES:
            continue
        words.append(_CONTRACTIONS.get(word, word))
    return ' '.join(words)
