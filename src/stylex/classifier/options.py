"""The classifier contract on the command line: one set of options for every command.

Every command that loads a classifier (``train``, ``check-classifier``, ``attfind
--classifier``, ``evaluate``, ``explain``, ``serve``) calls :func:`add_contract_arguments` and
:func:`contract_from_args`, so the options read the same everywhere::

    --input-range LO,HI        pixel range the classifier expects, e.g. 0,1, 0,255 or -1,1
    --input-size N             square input size, e.g. 28 or 224 ("any" = no resizing)
    --input-channels C         1 or 3
    --mean M[,M,M] --std S[,S,S]   per-channel normalisation after the range mapping
    --output logits|probs|log_probs   what the classifier returns
    --class-names a,b,c        its classes in output order
    --contract FILE.json       any of the above as a JSON object (the options override it)

The fields are those of :class:`stylex.classifier.ClassifierContract`; what a field means and
how stylex converts its images is documented there. The resolved contract is stored in the run
(inside ``RUN/classifier.pt`` and in ``config.json``), so later commands on the run need none of
these options; given to a run-based command they override the stored contract.
"""

from __future__ import annotations

import argparse
from typing import Any

from stylex.classifier.contract import OUTPUTS, ClassifierContract, contract_dict
from stylex.errors import ClassifierError

# contract field -> the command-line flag that sets it (error messages name the flag)
FLAGS: dict[str, str] = {
    "input_range": "--input-range",
    "resolution": "--input-size",
    "channels": "--input-channels",
    "mean": "--mean",
    "std": "--std",
    "output": "--output",
    "class_names": "--class-names",
}
OUTPUT_CHOICES = OUTPUTS


def add_contract_arguments(parser: argparse.ArgumentParser, overrides_run: bool = False) -> None:
    """Add the contract options (module docstring) to ``parser``, as their own group.

    ``overrides_run``: the command works on a run, so the options override its stored contract.
    """
    title = "classifier contract" + (
        " (overrides the one stored in the run)" if overrides_run else ""
    )
    g = parser.add_argument_group(
        title,
        "how the classifier expects its input and what it returns; stored in the run by "
        "`stylex train`, so later commands need none of these",
    )
    g.add_argument(
        "--input-range",
        metavar="LO,HI",
        default=None,
        help="pixel range it expects: 0,1 | 0,255 | -1,1 (default -1,1)",
    )
    g.add_argument(
        "--input-size",
        metavar="N",
        default=None,
        help="square input size it expects (e.g. 28, 224); 'any' = the data's; default any",
    )
    g.add_argument(
        "--input-channels",
        metavar="C",
        default=None,
        help="input channels it expects: 1 or 3; 'any' = the data's (default)",
    )
    g.add_argument("--mean", metavar="M[,M,M]", default=None, help="normalisation mean")
    g.add_argument("--std", metavar="S[,S,S]", default=None, help="normalisation std")
    g.add_argument(
        "--output",
        choices=OUTPUT_CHOICES,
        default=None,
        help="what it returns (default logits)",
    )
    g.add_argument(
        "--class-names",
        metavar="A,B,...",
        default=None,
        help="its classes in output order; data with the same names in another order is "
        "mapped to this order",
    )
    g.add_argument(
        "--contract",
        metavar="FILE.json",
        default=None,
        help="the contract as a JSON object (fields input_range, resolution, channels, mean, "
        "std, output, class_names); the options above override it",
    )


_NUMERIC_FLAGS = ("--input-range", "--mean", "--std")


def join_negative_values(argv: list[str]) -> list[str]:
    """``--input-range -1,1`` → ``--input-range=-1,1`` (argparse would read ``-1,1`` as an
    option); the same for ``--mean`` and ``--std``."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if (
            a in _NUMERIC_FLAGS
            and len(nxt) > 1
            and nxt[0] == "-"
            and (nxt[1].isdigit() or nxt[1] == ".")
        ):
            out.append(f"{a}={nxt}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def _floats(text: str, flag: str) -> list[float]:
    parts = [p for p in str(text).replace(" ", ",").strip("[]()").split(",") if p.strip()]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise ClassifierError(f"{flag} takes comma-separated numbers, got {text!r}") from None


def _size(text: str, flag: str, choices: tuple[int, ...] | None = None) -> int | None:
    t = str(text).strip().lower()
    if t in ("any", "none", "data", ""):
        return None
    try:
        v = int(t)
    except ValueError:
        raise ClassifierError(f"{flag} takes an integer or 'any', got {text!r}") from None
    if v < 1 or (choices is not None and v not in choices):
        allowed = ", ".join(map(str, choices)) if choices else "a positive integer"
        raise ClassifierError(f"{flag} must be {allowed} or 'any', got {text!r}")
    return v


def parse_contract_options(
    input_range: str | None = None,
    input_size: str | None = None,
    input_channels: str | None = None,
    mean: str | None = None,
    std: str | None = None,
    output: str | None = None,
    class_names: str | None = None,
) -> dict[str, Any]:
    """The options' text → a dict of contract fields (only those given)."""
    out: dict[str, Any] = {}
    if input_range is not None:
        r = _floats(input_range, "--input-range")
        if len(r) != 2 or not r[0] < r[1]:
            raise ClassifierError(
                f"--input-range takes LO,HI with LO < HI (e.g. 0,1 or 0,255), got {input_range!r}"
            )
        out["input_range"] = r
    if input_size is not None:
        out["resolution"] = _size(input_size, "--input-size")
    if input_channels is not None:
        out["channels"] = _size(input_channels, "--input-channels", (1, 3))
    if mean is not None:
        out["mean"] = _floats(mean, "--mean")
    if std is not None:
        out["std"] = _floats(std, "--std")
    if output is not None:
        if output not in OUTPUT_CHOICES:
            raise ClassifierError(f"--output must be one of {', '.join(OUTPUT_CHOICES)}")
        out["output"] = output
    if class_names is not None:
        names = [n.strip() for n in str(class_names).split(",") if n.strip()]
        if len(names) < 2 or len(set(names)) != len(names):
            raise ClassifierError(
                f"--class-names takes two or more distinct names, comma-separated, got "
                f"{class_names!r}"
            )
        out["class_names"] = names
    return out


def contract_from_args(args: argparse.Namespace) -> dict[str, Any] | None:
    """The contract fields set by ``--contract`` and the options (options win); None if none.

    The result is validated as a partial contract, so a bad value fails here with the flag's
    name, before any model loads.
    """
    fields: dict[str, Any] = {}
    path = getattr(args, "contract", None)
    if path:
        fields.update(contract_dict(str(path)))
    fields.update(
        parse_contract_options(
            getattr(args, "input_range", None),
            getattr(args, "input_size", None),
            getattr(args, "input_channels", None),
            getattr(args, "mean", None),
            getattr(args, "std", None),
            getattr(args, "output", None),
            getattr(args, "class_names", None),
        )
    )
    if not fields:
        return None
    ClassifierContract.from_dict(fields)  # unknown fields / bad values fail now
    return fields


def describe_contract(contract) -> str:
    """One line per field, with the flag that sets it (for ``check-classifier``)."""
    d = contract.to_dict()
    rows = []
    for name, flag in FLAGS.items():
        v = d[name]
        if name == "input_range":
            v = f"{v[0]:g},{v[1]:g}"
        elif name in ("resolution", "channels") and v is None:
            v = "any (the data's)"
        elif name in ("mean", "std"):
            v = "none" if v is None else ",".join(f"{x:g}" for x in v)
        elif name == "class_names":
            v = ",".join(v) if v else "(the data's)"
        rows.append(f"  {name:<12} {str(v):<28} {flag}")
    return "\n".join(rows)
