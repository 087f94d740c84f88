"""The content model and its loader."""

from .load import LoadOptions, LoadResult, load_library
from .model import Article, Category, FaqEntry, Library, Section, Step, Tag

__all__ = [
    "Article", "Category", "FaqEntry", "Library", "LoadOptions", "LoadResult", "Section", "Step", "Tag",
    "load_library",
]  # fmt: skip
