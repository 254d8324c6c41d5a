"""The super link: routing tokens, per-decoder query tables, link-embedding extraction."""
from .super_link import LinkGroupEmbeddings, SuperLink

__all__ = ['SuperLink', 'LinkGroupEmbeddings']
