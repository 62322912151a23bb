"""The ``stylex`` command line: a thin layer over the Python API.

Each sub-command lives in the module of its pipeline stage, which provides
``add_arguments(parser)`` and ``run(args) -> int | None``. Only the chosen command's module is
imported, so ``stylex --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from stylex import __version__
from stylex.classifier.options import join_negative_values
from stylex.errors import StylexError

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train-classifier": ("stylex.classifier.train_cli", "train the built-in small CNN classifier"),
    "check-classifier": (
        "stylex.classifier.check_cli",
        "check a classifier against data: contract, accuracy, verdict",
    ),
    "train": ("stylex.training.cli", "train a StylEx generator + encoder with a classifier"),
    "attfind": ("stylex.attfind.cli", "find the classifier's top attributes in StyleSpace"),
    "explain": ("stylex.explain.cli", "explain the classification of given images"),
    "evaluate": ("stylex.metrics.cli", "compute faithfulness metrics, write metrics.json"),
    "report": ("stylex.report.cli", "write a self-contained HTML report of a run"),
    "serve": ("stylex.serve.cli", "start the interactive viewer"),
    "demo": ("stylex.demo", "run the whole pipeline on built-in data"),
}


def _top_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stylex",
        description="Explain an image classifier with StylEx (Lang et al., ICCV 2021).",
        epilog="Commands:\n"
        + "\n".join(f"  {name:<18}{help_}" for name, (_, help_) in COMMANDS.items())
        + "\n\nRun `stylex COMMAND --help` for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("command", choices=list(COMMANDS), metavar="COMMAND")
    p.add_argument("--version", action="version", version=f"stylex {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv or argv[0] not in COMMANDS:
        top.parse_args(argv[:1] or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    module_name, help_ = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"stylex {name}", description=help_)
    module.add_arguments(parser)
    args = parser.parse_args(join_negative_values(rest))
    try:
        code = module.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except StylexError as e:
        print(f"stylex {name}: error: {e}", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
