"""The public face: one object that explains images with a trained run.

::

    import stylex
    pipe = stylex.StylExPipeline.from_pretrained("fashion-mnist")   # a run folder or a built-in
    out = pipe("boot.png", top_k=5)            # path | PIL image | tensor [C, R, R] in [-1, 1]
    print(out.summary())
    out.panel().save("panel.png"); out.counterfactual.save("cf.png")

``from_pretrained`` composes a :class:`~stylex.run.Run` (generator, encoder, classifier) with
its AttFind result: ``RUN/attfind`` when it exists, otherwise AttFind is run once with its
defaults and the result is cached (in the run folder when it is writable and not a shipped
run, else under ``$STYLEX_CACHE`` or ``~/.cache/stylex``). Calling the pipeline returns a typed
:class:`Explanation` (a list of them for a list of inputs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from stylex.attfind.select import Attribute
from stylex.errors import DataError, RunError, StylexError
from stylex.explain.results import ImageExplanation
from stylex.utils.images import from_uint8, to_pil

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"

ImageInput = str | os.PathLike | Image.Image | torch.Tensor


def builtin_runs() -> list[str]:
    """Names of the shipped pretrained runs (folders under ``stylex/pretrained``)."""
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.json").is_file())


def resolve_run_dir(name_or_dir: str | os.PathLike) -> Path:
    """A run folder path, or a built-in run name → the run folder; a clear error otherwise."""
    path = Path(name_or_dir)
    if (path / "config.json").is_file():
        return path
    if str(name_or_dir) in builtin_runs():
        return PRETRAINED_DIR / str(name_or_dir)
    raise RunError(
        f"{name_or_dir!r} is neither a run folder (no config.json there) nor a built-in run "
        f"({', '.join(builtin_runs())})"
    )


def _cache_root() -> Path:
    env = os.environ.get("STYLEX_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "stylex"


def _attfind_dir(run_dir: Path) -> Path:
    """Where this run's AttFind result lives or will be cached."""
    own = run_dir / "attfind"
    if (own / "attributes.json").is_file():
        return own
    shipped = run_dir.resolve().is_relative_to(PRETRAINED_DIR)
    if not shipped and os.access(run_dir, os.W_OK):
        return own
    return _cache_root() / "attfind" / run_dir.resolve().name


@dataclass
class Explanation:
    """One image explained: what the classifier predicts and which attributes change it.

    Attributes:
        detail: the full :class:`~stylex.explain.ImageExplanation` (tensors in [-1, 1]).
        predicted: the class name predicted on the reconstruction ``G(E(x))``.
        target: the class name the attributes were ranked toward.
        flipped: whether applying the top attributes together changed the predicted class.
        subset_size: how many top attributes were needed (None: no flip).
        attributes: this image's top attributes, strongest first.
    """

    detail: ImageExplanation

    @property
    def predicted(self) -> str:
        return self.detail.class_names[self.detail.predicted]

    @property
    def target(self) -> str:
        return self.detail.class_names[self.detail.target]

    @property
    def flipped(self) -> bool:
        return bool(self.detail.flipped)

    @property
    def subset_size(self) -> int | None:
        return self.detail.subset_size

    @property
    def attributes(self) -> list[Attribute]:
        return [c.attributes[-1] for c in self.detail.independent]

    @property
    def image(self) -> Image.Image:
        """The input as the model saw it (resized, channels converted)."""
        return to_pil(self.detail.image)

    @property
    def reconstruction(self) -> Image.Image:
        """``G(E(x))``: the original every counterfactual is compared with."""
        return to_pil(self.detail.reconstruction)

    @property
    def counterfactual(self) -> Image.Image:
        """The subset counterfactual (the top attributes applied up to the flip)."""
        cf = self.detail.subset_counterfactual
        if cf is None:
            raise StylexError("no counterfactual: this run has no candidate attributes")
        return to_pil(cf.image)

    def panel(self, scale: int | None = None) -> Image.Image:
        """Input | reconstruction | each top attribute alone | the subset counterfactual."""
        from stylex.explain import explanation_panel

        return explanation_panel(self.detail, scale=scale)

    def summary(self) -> str:
        return self.detail.summary()

    def to_dict(self) -> dict[str, Any]:
        return self.detail.to_dict()


class StylExPipeline:
    """A trained run plus its AttFind result, asked one image (or a list) at a time.

    Args:
        run: a loaded :class:`~stylex.run.Run`.
        attributes: its :class:`~stylex.attfind.AttFindResult`.
        shift_size: attribute strength for the counterfactuals (default: AttFind's).
    """

    def __init__(self, run, attributes, shift_size: float | None = None):
        from stylex.explain import Explainer

        self.run = run
        self.attributes = attributes
        self.explainer = Explainer(run, attributes, shift_size=shift_size)

    @classmethod
    def from_pretrained(
        cls,
        name_or_dir: str | os.PathLike,
        device: str = "auto",
        shift_size: float | None = None,
        num_images: int = 256,
        top_k: int = 10,
        progress: bool = True,
    ) -> StylExPipeline:
        """Load a run folder or a built-in run (:func:`builtin_runs`) on ``device``; run
        AttFind (``num_images``, ``top_k``, its default mode) if the run has no result yet."""
        from stylex.attfind import AttFind, AttFindResult
        from stylex.run import Run

        run_dir = resolve_run_dir(name_or_dir)
        run = Run.load(run_dir, device=device)
        where = _attfind_dir(run_dir)
        if (where / "attributes.json").is_file():
            result = AttFindResult.load(where)
        else:
            if progress:
                print(
                    f"stylex: no AttFind result for {run_dir}; running AttFind once "
                    f"({num_images} images), cached in {where}"
                )
            result = AttFind(run, progress=progress).attribute(
                num_images=num_images, top_k=top_k, screen=True
            )
            result.save(where)
        return cls(run, result, shift_size=shift_size)

    @property
    def class_names(self) -> list[str]:
        return list(self.explainer.class_names)

    def preprocess(self, images: ImageInput | list[ImageInput]) -> torch.Tensor:
        """Paths, PIL images or tensors → ``[B, C, R, R]`` in [-1, 1] at the run's resolution
        and channels (files and PIL images by the data layer's rule: pad or resize + crop)."""
        items = images if isinstance(images, list | tuple) else [images]
        res = int(self.run.config.data.resolution)
        ch = int(self.run.config.data.channels)
        out = [self._one(x, res, ch) for x in items]
        return torch.stack(out)

    @staticmethod
    def _one(x: ImageInput, res: int, ch: int) -> torch.Tensor:
        from stylex.data.convert import fit_image, pil_to_array, to_channels
        from stylex.explain import read_images

        if isinstance(x, torch.Tensor):
            t = x.detach().float().cpu()
            if t.dim() == 4 and t.shape[0] == 1:
                t = t[0]
            if t.shape != (ch, res, res):
                raise DataError(
                    f"a tensor input must be [{ch}, {res}, {res}] in [-1, 1] for this run, "
                    f"got {list(x.shape)}"
                )
            if t.min() < -1.001 or t.max() > 1.001:
                raise DataError("a tensor input must hold values in [-1, 1]")
            return t
        if isinstance(x, Image.Image):
            arr = fit_image(to_channels(pil_to_array(x), ch), res)
            return from_uint8(torch.from_numpy(arr).permute(2, 0, 1))
        if isinstance(x, str | os.PathLike):
            return read_images([x], res, ch)[0]
        raise DataError(f"cannot explain a {type(x).__name__}: give a path, PIL image or tensor")

    def __call__(
        self,
        images: ImageInput | list[ImageInput],
        top_k: int = 5,
        target: int | str | None = None,
    ) -> Explanation | list[Explanation]:
        """Explain one image (→ :class:`Explanation`) or a list (→ a list of them).

        ``target``: the class to explain toward (default: each image's runner-up class)."""
        x = self.preprocess(images)
        names = None
        if isinstance(images, list | tuple):
            names = [Path(i).stem if isinstance(i, str | os.PathLike) else "" for i in images]
        details = self.explainer.explain(x, top_k=top_k, target=target, names=names)
        out = [Explanation(d) for d in details]
        return out if isinstance(images, list | tuple) else out[0]


__all__ = ["Explanation", "StylExPipeline", "builtin_runs", "resolve_run_dir"]
