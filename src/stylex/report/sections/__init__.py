"""The sections of the report page, one module each: ``NAME_section(ctx) -> html``."""
