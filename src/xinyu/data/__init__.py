"""Data pipeline: import public corpora, clean, split, analyse, and build training datasets."""
