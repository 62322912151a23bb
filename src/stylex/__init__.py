"""stylex: explain image classifiers with StylEx (Lang et al., ICCV 2021)."""

from stylex.runtime import tune_allocator as _tune_allocator

_tune_allocator()

__version__ = "0.1.0"
