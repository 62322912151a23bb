"""The self-contained HTML report of a run (``RUN/report/index.html``).

::

    from stylex.report import build_report
    result = build_report("runs/fm", baseline="runs/fm-baseline")
    print(result.path, result.size_bytes, result.seconds)
"""

from stylex.report.build import ReportResult, build_report
from stylex.report.context import ReportOptions

__all__ = ["ReportOptions", "ReportResult", "build_report"]
