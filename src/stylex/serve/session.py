"""The viewer's model side: one loaded run, its AttFind attributes, and per-image sessions.

:class:`Viewer` owns everything torch: the run (loaded once), the AttFind result, the held-out
images and a bounded LRU of :class:`Session` objects. The web app (:mod:`stylex.serve.app`)
only translates HTTP to these calls.

A *session* is one encoded image: its style vectors ``s = G.styles(E(x), C(x))``, the
reconstruction ``G(s)`` (constant noise) and the synthesis state cached *before* every layer
that holds an attribute. A slider sets a style coordinate to an absolute value; an edit
re-runs only the layers from the earliest edited one (``Generator.run_from``), so an update at
32–64 px costs a fraction of a full synthesis.

Conventions (those of AttFind and :mod:`stylex.explain`): probabilities are
``softmax(classifier(image.clamp(-1, 1)))``; the *original* of an edit is the reconstruction;
an attribute moves its coordinate toward its target, ``s_i ← s_i + shift·(target − s_i)``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch

from stylex.attfind.api import AttFindResult
from stylex.attfind.visibility import stored_visibility
from stylex.errors import RunError, StylexError
from stylex.explain.results import first_flip
from stylex.models.stylespace import class_probs, shifted
from stylex.serve.state import (
    FlipOutcome,
    Rendered,
    Session,
    ViewerError,
    check_attfind,
    one_per_coordinate,
)
from stylex.utils.images import png_bytes

__all__ = [
    "DEFAULT_MAX_SESSIONS",
    "DEFAULT_TOP_K",
    "FlipOutcome",
    "Rendered",
    "Session",
    "Viewer",
    "ViewerError",
    "check_attfind",
]

DEFAULT_MAX_SESSIONS = 64
DEFAULT_TOP_K = 10


class Viewer:
    """A run loaded for interactive editing (thread-safe; torch work is serialised by a lock).

    Args:
        run: a :class:`stylex.run.Run` (or a run folder, loaded on ``device``).
        attributes: an :class:`~stylex.attfind.AttFindResult`; default ``RUN/attfind``.
        top_k: attributes per class shown as sliders.
        max_sessions: open sessions kept (least recently used dropped first).
        split: the held-out split the images come from.
    """

    def __init__(
        self,
        run,
        attributes: AttFindResult | None = None,
        *,
        device: str | None = None,
        top_k: int = DEFAULT_TOP_K,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        split: str = "val",
    ):
        from stylex.run import Run

        if not isinstance(run, Run):
            check_attfind(run)
            run = Run.load(run, device=device, discriminator=False)
        if attributes is None:
            attributes = AttFindResult.load(check_attfind(run.path))
        if top_k < 1 or max_sessions < 1:
            raise StylexError("top_k and max_sessions must be ≥ 1")
        self.run = run
        self.result = attributes
        self.effects = attributes.effects
        self.space = self.effects.space
        self.shift_size = float(self.effects.shift_size)
        self.generator = run.generator.eval()
        self.classifier = run.classifier
        self.device = run.device
        self.top_k = int(top_k)
        self.max_sessions = int(max_sessions)
        g = self.generator
        if any(
            layer >= g.num_layers or g.layers[layer].style_dim != size
            for layer, size in zip(self.space.layers, self.space.sizes)
        ):
            raise RunError(
                f"{run.path}/attfind does not match this run's generator (StyleSpace): re-run "
                "`stylex attfind`"
            )
        self.resolution = int(g.config.resolution)
        self.channels = int(g.config.img_channels)
        self.class_names = list(run.class_names)
        self.dataset = run.dataset(split)
        run.forget_data()  # a long-lived server keeps its split only, not all the decoded data
        self.split = split
        # per class: its top attributes, one per coordinate (a slider sets a coordinate)
        self.attributes = [
            one_per_coordinate(c.attributes)[: self.top_k] for c in self.result.classes
        ]
        # how far past the style range a slider may go: the largest display strength
        # (attribute.extra["visibility"], stylex.attfind.visibility) of the attributes on it
        self.reach: dict[int, float] = {}
        for attrs in self.attributes:
            for a in attrs:
                vis = stored_visibility(a)
                t = vis.shift if vis is not None else 1.0
                self.reach[a.index] = max(self.reach.get(a.index, 1.0), t)
        # style layers that hold a slider: the states before them are cached per session
        self.layers = sorted({a.layer for attrs in self.attributes for a in attrs})
        self._noise = g.make_noise(1, "const")
        self._torch = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._sessions_lock = threading.Lock()

    # ------------------------------------------------------------------------------ info
    @property
    def num_images(self) -> int:
        return len(self.dataset)

    def info(self) -> dict:
        """Classes, their top attributes (with slider ranges) and the image count."""
        lo, hi = self.effects.style_min, self.effects.style_max
        classes = []
        for k, (c, attrs) in enumerate(zip(self.result.classes, self.attributes)):
            classes.append(
                {
                    "name": c.name,
                    "index": k,
                    "attributes": [
                        {
                            "rank": r + 1,
                            "index": a.index,
                            "layer": a.layer,
                            "where": self.generator.describe_layer(a.layer),
                            "channel": a.channel,
                            "direction": a.direction,
                            "target": float(self.effects.targets[a.direction_index, a.index]),
                            "effect": round(float(a.effect), 6),
                            "flipped": int(a.flipped),
                            "min": float(lo[a.index]),
                            "max": float(hi[a.index]),
                            "reach": self.reach.get(a.index, 1.0),
                            "visibility": vis.to_dict()
                            if (vis := stored_visibility(a)) is not None
                            else None,
                        }
                        for r, a in enumerate(attrs)
                    ],
                }
            )
        return {
            "run": Path(self.run.path).name,
            "resolution": self.resolution,
            "channels": self.channels,
            "baseline": bool(self.run.baseline),
            "class_names": self.class_names,
            "classes": classes,
            "num_images": self.num_images,
            "split": self.split,
            "shift_size": self.shift_size,
            "top_k": self.top_k,
        }

    def check_index(self, index: int) -> int:
        n = self.num_images
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n:
            raise ViewerError(f"image index must be an integer in 0..{n - 1}, got {index!r}", 404)
        return index

    def image_entry(self, index: int) -> dict:
        """The id and label of held-out image ``index``."""
        label = int(self.dataset.labels[index])
        return {
            "index": index,
            "id": str(self.dataset.ids[index]),
            "label": label,
            "label_name": self.class_names[label] if 0 <= label < len(self.class_names) else "",
        }

    def thumbnail(self, index: int, scale: int = 1) -> bytes:
        """PNG of held-out image ``index`` (nearest-neighbour upscaled by ``scale``)."""
        self.check_index(index)
        return png_bytes(self.dataset.float_images([index])[0], scale)

    # ------------------------------------------------------------------------------ sessions
    def _store(self, session: Session) -> Session:
        with self._sessions_lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return session

    def session(self, session_id: str) -> Session:
        with self._sessions_lock:
            s = self._sessions.get(session_id) if isinstance(session_id, str) else None
            if s is None:
                raise ViewerError("unknown or expired session: choose the image again", 404)
            self._sessions.move_to_end(session_id)
            return s

    @property
    def num_sessions(self) -> int:
        with self._sessions_lock:
            return len(self._sessions)

    def open_index(self, index: int) -> Session:
        """A session for held-out image ``index``."""
        self.check_index(index)
        return self.open_image(self.dataset.float_images([index]), {"index": index})

    @torch.no_grad()
    def open_image(self, image: torch.Tensor, source: dict | None = None) -> Session:
        """A session for ``image [1, C, R, R]`` in [-1, 1] (at the run's resolution/channels):
        encode, reconstruct, cache the states before every attribute layer."""
        want = (1, self.channels, self.resolution, self.resolution)
        if tuple(image.shape) != want:
            raise ViewerError(f"image must be {list(want)}, got {list(image.shape)}")
        g = self.generator
        with self._torch:
            x = image.to(self.device, torch.float32)
            input_probs = class_probs(self.classifier, x)[0]
            w, c = self.run.encode(x)
            styles = g.styles(w, c)
            state = g.initial_state(1, styles[0].dtype)
            states = {}
            for layer in range(g.num_layers):
                if layer in self.layers:
                    states[layer] = state
                state = g.run_layers(state, styles, layer, layer + 1, self._noise)
            recon = state.img
            probs = class_probs(self.classifier, recon)[0]
        session = Session(
            id=secrets.token_urlsafe(16),
            styles=styles,
            flat=self.space.flatten(styles)[0].float().cpu(),
            image=x.cpu(),
            input_probs=input_probs.cpu(),
            reconstruction=recon.cpu(),
            probs=probs.cpu(),
            states=states,
            source=dict(source or {}),
        )
        return self._store(session)

    def slider_values(self, session: Session) -> dict[int, float]:
        """The image's own value of every attribute coordinate (flat index → value)."""
        idx = sorted({a.index for attrs in self.attributes for a in attrs})
        return {i: session.value(i) for i in idx}

    # ------------------------------------------------------------------------------ edits
    def _check_values(self, session: Session, values: Mapping) -> dict[int, float]:
        """Validated edits: flat index → value, clamped to the coordinate's range (min…max over
        AttFind's images, widened to include the image's own value and, for an attribute shown
        past the range, its display strength: ``own + reach·(min or max − own)``); unchanged
        ones dropped."""
        if len(values) > self.space.total:
            raise ViewerError("too many style values")
        lo, hi = self.effects.style_min, self.effects.style_max
        out: dict[int, float] = {}
        for key, v in values.items():
            try:
                i = int(key)
            except (TypeError, ValueError):
                raise ViewerError(f"style index must be an integer, got {key!r}") from None
            if not 0 <= i < self.space.total:
                raise ViewerError(f"style index {i} out of range 0..{self.space.total - 1}")
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ViewerError(f"style value for {i} must be a number, got {v!r}")
            v = float(v)
            if v != v or v in (float("inf"), float("-inf")):
                raise ViewerError(f"style value for {i} must be finite")
            own = session.value(i)
            reach = self.reach.get(i, 1.0)
            low = min(float(lo[i]), own, own + reach * (float(lo[i]) - own))
            high = max(float(hi[i]), own, own + reach * (float(hi[i]) - own))
            v = min(max(v, low), high)
            if abs(v - own) > 1e-7 * max(1.0, abs(own)):
                out[i] = v
        return out

    def _state(self, session: Session, layer: int):
        """The un-edited synthesis state before ``layer`` (cached)."""
        state = session.states.get(layer)
        if state is None:
            state = self.generator.run_until(session.styles, layer, noise=self._noise)
            session.states[layer] = state
        return state

    @torch.no_grad()
    def render(self, session: Session, values: Mapping) -> Rendered:
        """The reconstruction with style coordinates set to ``values`` (flat index → value),
        re-running only the layers from the earliest edited one."""
        t0 = time.perf_counter()
        edits = self._check_values(session, values)
        if not edits:
            return Rendered(session.reconstruction, session.probs, {}, None, 0.0)
        with self._torch:
            styles = list(session.styles)
            start = self.generator.num_layers
            for i, v in edits.items():
                layer, ch = self.space.locate(i)
                if styles[layer] is session.styles[layer]:
                    styles[layer] = styles[layer].clone()
                styles[layer][:, ch] = v
                start = min(start, layer)
            img = self.generator.run_from(self._state(session, start), styles, start, self._noise)
            probs = class_probs(self.classifier, img)[0]
        return Rendered(img.cpu(), probs.cpu(), edits, start, time.perf_counter() - t0)

    def edit(self, session_id: str, values: Mapping) -> Rendered:
        return self.render(self.session(session_id), values)

    def class_index(self, name_or_index: int | str) -> int:
        if isinstance(name_or_index, str) and not name_or_index.isdigit():
            if name_or_index not in self.class_names:
                raise ViewerError(f"unknown class {name_or_index!r}; classes: {self.class_names}")
            return self.class_names.index(name_or_index)
        k = int(name_or_index)
        if not 0 <= k < len(self.attributes):
            raise ViewerError(f"class index must be in 0..{len(self.attributes) - 1}, got {k}")
        return k

    @torch.no_grad()
    def flip(self, session_id: str, cls: int | str) -> FlipOutcome:
        """Apply class ``cls``'s top attributes cumulatively (1, 1+2, …) to the reconstruction,
        each toward its target, until the predicted class changes. All prefixes are rendered
        as one batch from the earliest attribute layer."""
        t0 = time.perf_counter()
        session = self.session(session_id)
        k = self.class_index(cls)
        attrs = self.attributes[k]
        before = int(session.probs.argmax())
        values = {a.index: session.value(a.index) for a in attrs}
        if not attrs or before == k:
            return FlipOutcome(
                values,
                None,
                [],
                session.reconstruction,
                session.probs,
                before,
                before,
                0.0,
                already=before == k,
            )
        targets = self.effects.targets
        new = [
            float(
                shifted(session.flat[a.index], targets[a.direction_index, a.index], self.shift_size)
            )
            for a in attrs
        ]
        n = len(attrs)
        g = self.generator
        with self._torch:
            styles = [s.repeat(n, 1) for s in session.styles]  # row j: step j
            for j, (a, v) in enumerate(zip(attrs, new)):
                styles[a.layer][j:, a.channel] = v  # step j applies attributes 0..j
            start = min(a.layer for a in attrs)
            state = self._state(session, start).repeat_interleave(n)
            imgs = g.run_from(state, styles, start, self._noise)
            probs = class_probs(self.classifier, imgs).cpu()
        preds = probs.argmax(1)
        needed = first_flip(before, probs)
        last = (needed or n) - 1
        for a, v in zip(attrs[: last + 1], new):
            values[a.index] = v
        return FlipOutcome(
            values=values,
            needed=needed,
            steps=list(probs[: last + 1]),
            image=imgs[last : last + 1].cpu(),
            probs=probs[last],
            predicted_before=before,
            predicted_after=int(preds[last]),
            seconds=time.perf_counter() - t0,
        )
