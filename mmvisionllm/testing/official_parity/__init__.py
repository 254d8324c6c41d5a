"""Parity of our official-compatible VisionLLM v2 parts against the official reference.

Each part adds a ``<part>_parity(reference_dir) -> List[Tuple[str, float, str]]`` function in its
own module here; ``tools/analysis_tools/official_parity.py`` lists the modules it calls.
"""
from .reference import (REFERENCE_ENV, SMALL_CONFIG, build_reference_small_model,
                        load_reference_arrays, reference_dir, write_vicuna_shaped_tokenizer)

__all__ = [
    'REFERENCE_ENV', 'SMALL_CONFIG', 'build_reference_small_model', 'load_reference_arrays',
    'reference_dir', 'write_vicuna_shaped_tokenizer'
]
