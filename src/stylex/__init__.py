"""stylex: explain image classifiers with StylEx (Lang et al., ICCV 2021).

The public face (imported on first use, so ``import stylex`` stays instant)::

    import stylex
    pipe = stylex.StylExPipeline.from_pretrained("fashion-mnist")
    out = pipe("boot.png", top_k=5)

``StylExPipeline``, ``Explanation`` (:mod:`stylex.pipeline`); ``Run`` (:mod:`stylex.run`);
``AttFind``, ``AttFindResult`` (:mod:`stylex.attfind`); ``Explainer`` (:mod:`stylex.explain`);
``train`` (:func:`stylex.training.api.train`); ``evaluate`` (:func:`stylex.metrics.evaluate`).
"""

from importlib import import_module as _import_module
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _dist_version

from stylex.runtime import tune_allocator as _tune_allocator

_tune_allocator()

try:  # one version source: the package metadata (pyproject.toml)
    __version__ = _dist_version("stylex")
except _PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

_EXPORTS = {
    "StylExPipeline": "stylex.pipeline",
    "Explanation": "stylex.pipeline",
    "Run": "stylex.run",
    "AttFind": "stylex.attfind",
    "AttFindResult": "stylex.attfind",
    "Explainer": "stylex.explain",
    "train": "stylex.training.api",
    "evaluate": "stylex.metrics",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(_import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stylex' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = ["__version__", *_EXPORTS]
