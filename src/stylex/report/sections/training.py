"""Section "Training": the curves of ``log.jsonl``."""

from __future__ import annotations

from pathlib import Path

from stylex.report.charts import line_chart
from stylex.report.context import ReportContext
from stylex.report.html import missing
from stylex.report.training_log import LOG_FILE, read_log

CURVE_GROUPS: list[tuple[str, list[str]]] = [
    ("Discriminator loss", ["loss_d"]),
    ("D outputs (real / fake)", ["d_real", "d_fake"]),
    ("Generator + encoder loss", ["loss_g"]),
    ("Adversarial loss (G)", ["adv"]),
    ("Reconstruction L1", ["l1"]),
    ("w reconstruction", ["w_rec"]),
    ("Perceptual loss", ["perc", "perceptual"]),
    ("Classifier KL(C(x) ‖ C(x′))", ["kl"]),
    ("R1 penalty", ["r1"]),
    ("Held-out consistency", ["eval_consistency"]),
    ("Held-out probability difference", ["eval_prob_diff"]),
    ("Held-out reconstruction L1", ["eval_rec_l1"]),
    ("Throughput (images/s)", ["img_per_s"]),
]


def training_curves(log: dict[str, tuple[list[float], list[float]]]) -> str:
    charts, used = [], set()
    for title, keys in CURVE_GROUPS:
        series = [(k, *log[k]) for k in keys if k in log]
        used.update(keys)
        if series:
            charts.append(line_chart(title, series))
    for k in sorted(set(log) - used):
        charts.append(line_chart(k, [(k, *log[k])]))
    return '<div class="charts">' + "".join(charts) + "</div>"


def training_section(ctx: ReportContext) -> str:
    log = read_log(Path(ctx.run.path) / LOG_FILE)
    if not log:
        return missing("No training log (<code>log.jsonl</code>) in this run.")
    return (
        '<p class="note">From <code>log.jsonl</code>; long noisy curves show the raw values '
        "faintly and an exponential moving average on top.</p>" + training_curves(log)
    )
