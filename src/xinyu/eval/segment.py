"""Chinese word segmentation for ROUGE, initialised once, quietly and deterministically.

LLaMA-Factory segments with the global ``jieba.cut`` (default dictionary, HMM on). xinyu uses a
private :class:`jieba.Tokenizer` with the same default dictionary, so words another module adds
to the global jieba dictionary cannot change evaluation scores, and jieba's "Building prefix
dict..." messages stay off stderr.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

_LOCK = threading.Lock()
_TOKENIZER: Any = None


def segmenter() -> Any:
    """The shared, initialised jieba tokenizer (default dictionary, no user words)."""
    global _TOKENIZER
    with _LOCK:
        if _TOKENIZER is None:
            import jieba

            tokenizer = jieba.Tokenizer()
            logger = jieba.default_logger
            level = logger.level
            # jieba logs dictionary loading at DEBUG level to its own stderr handler; silence it only
            # while loading so the caller's logging configuration is left as it was.
            logger.setLevel(logging.WARNING)
            try:
                tokenizer.initialize()
            finally:
                logger.setLevel(level)
            _TOKENIZER = tokenizer
    return _TOKENIZER


def segment(text: str) -> list[str]:
    """Words of ``text`` exactly as ``list(jieba.cut(text))`` gives them (HMM on)."""
    return list(segmenter().cut(text))
