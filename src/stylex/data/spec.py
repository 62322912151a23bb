"""Dataset specs: ``SOURCE[@SPLIT][:SELECTION][?OPTIONS]`` split into their parts (the syntax
is documented in :mod:`stylex.data`)."""

from __future__ import annotations

from pathlib import Path

from stylex.errors import DataError

BUILTINS = ("fashion-mnist", "mnist", "shapes", "gratings")
RULE_SOURCES = ("shapes", "gratings")  # synthetic data whose selection is a label rule
OPTIONS = {
    "fashion-mnist": {"n"},
    "mnist": {"n"},
    "shapes": {"n", "seed", "shapes"},
    "gratings": {"n", "seed"},
    "path": {"n", "skip_bad"},
}


def parse_spec(spec: str) -> dict:
    """Split a spec into ``{"source", "path", "split", "selection", "options"}``.

    ``source`` is a built-in name or ``"path"`` (then ``path`` is set); ``selection`` is the
    text after ``:`` (a class list or a shapes rule) or None; ``options`` a dict of strings.
    """
    spec = str(spec).strip()
    if not spec:
        raise DataError("empty dataset spec")
    builtin = _builtin_head(spec)
    if not builtin and Path(spec).exists():
        return {
            "source": "path",
            "path": Path(spec),
            "split": None,
            "selection": None,
            "options": {},
        }
    base, _, opt_text = spec.partition("?")
    options: dict[str, str] = {}
    for item in filter(None, opt_text.split("&")):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise DataError(f"dataset spec {spec!r}: option {item!r} is not key=value")
        options[key.strip().lower()] = value.strip()
    if not builtin and Path(base).exists():
        return {
            "source": "path",
            "path": Path(base),
            "split": None,
            "selection": None,
            "options": options,
        }
    head, colon, selection = base.partition(":")
    if colon and not builtin and Path(head).exists():
        return {
            "source": "path",
            "path": Path(head),
            "split": None,
            "selection": selection,
            "options": options,
        }
    name, _, split = head.partition("@")
    if selection and "@" in selection and name not in RULE_SOURCES:  # fashion-mnist:a,b@test
        selection, _, split = selection.rpartition("@")
    name = name.strip().lower().replace("_", "-")
    if name == "fashionmnist":
        name = "fashion-mnist"
    if name not in BUILTINS:
        looks_like_path = "/" in spec or "." in head or "\\" in spec
        raise DataError(
            f"dataset {spec!r}: "
            + (f"path {head!r} not found" if looks_like_path else f"unknown built-in {name!r}")
            + "; give a class-per-folder directory, a CSV or an .npz, or one of "
            + ", ".join(BUILTINS)
            + " (e.g. fashion-mnist:sneaker,ankle-boot, mnist:3,8, shapes:hue<0.5)"
        )
    return {
        "source": name,
        "path": None,
        "split": split.strip().lower() or None,
        "selection": selection.strip() if colon else None,
        "options": options,
    }


def _builtin_head(spec: str) -> bool:
    """True when ``spec`` names a built-in (a folder of that name needs ``./NAME``)."""
    head = spec.split("?")[0].split(":")[0].split("@")[0].strip().lower().replace("_", "-")
    return head in BUILTINS or head == "fashionmnist"


def int_option(options: dict, key: str, spec: str) -> int | None:
    """Option ``key`` of a parsed spec as an int (None when absent)."""
    if key not in options:
        return None
    try:
        return int(options[key])
    except ValueError:
        raise DataError(
            f"dataset {spec!r}: option {key}={options[key]!r} is not an integer"
        ) from None


def bool_option(options: dict, key: str, spec: str) -> bool:
    """The option ``key`` as a bool (1/0, true/false, yes/no; absent: False)."""
    value = str(options.get(key, "0")).lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise DataError(f"dataset {spec!r}: {key} must be 1 or 0")
    return value in ("1", "true", "yes")


def with_spec_option(spec: str, key: str, value: str) -> str:
    """``spec`` with the option ``key=value`` added (``?key=value`` or ``&key=value``)."""
    spec = str(spec).strip()
    parsed = parse_spec(spec)
    if parsed["options"].get(key) == value:
        return spec
    return f"{spec}{'&' if '?' in spec else '?'}{key}={value}"
