"""心语 xinyu: build, evaluate and serve Chinese psychological-counseling language models.

Importing the package is cheap: heavy dependencies (torch, transformers) are imported lazily by
the modules that need them.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
