"""Moved to :mod:`stylex.classifier.options`; this path stays for the commands that import it."""

from stylex.classifier.options import (
    FLAGS,
    OUTPUT_CHOICES,
    add_contract_arguments,
    contract_from_args,
    describe_contract,
    join_negative_values,
    parse_contract_options,
)

__all__ = [
    "FLAGS",
    "OUTPUT_CHOICES",
    "add_contract_arguments",
    "contract_from_args",
    "describe_contract",
    "join_negative_values",
    "parse_contract_options",
]
