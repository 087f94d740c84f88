"""kbgen: a static site generator for self-service help centres."""

__version__ = "0.1.0"
