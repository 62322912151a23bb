"""Section "Configuration": data, classifier, models, training budget, AttFind settings."""

from __future__ import annotations

from typing import Any

from stylex.report.context import ReportContext
from stylex.report.html import card, duration, kv_table, param_count
from stylex.report.training_log import steps_done, train_seconds
from stylex.training.run_config import RunConfig

ENCODER_KINDS = {
    "trained": "trained from scratch (the paper's)",
    "effnet": "frozen ImageNet EfficientNet-Lite0 features + a trained head",
}
"""How the report names each encoder kind (``EncoderConfig.features``)."""


def config_section(ctx: ReportContext) -> str:
    cfg = ctx.run.config
    d, c, g, t = cfg.data, cfg.classifier, cfg.generator, cfg.train
    data = kv_table(
        [
            ("spec", d.spec),
            ("images", d.num_images),
            ("resolution", f"{d.resolution} px"),
            ("channels", d.channels),
            ("held-out fraction", d.val_fraction),
            ("classes", ", ".join(ctx.names)),
            (
                "labels",
                "the classifier's predictions (the data has none; its accuracy is not checked)"
                if d.labels == "classifier"
                else "from the data",
            ),
        ]
    )
    contract = getattr(ctx.run.classifier, "contract", None)
    crow: list[tuple[str, Any]] = [("file", c.file), ("source", c.source)]
    if contract is not None and hasattr(contract, "input_range"):
        crow += [("input range", list(contract.input_range)), ("output", contract.output)]
    crow.append(("parameters", param_count(ctx.run.classifier)))
    clf = kv_table(crow)
    models = kv_table(
        [
            ("generator params", param_count(ctx.run.generator)),
            ("encoder", ENCODER_KINDS.get(ctx.run.encoder.config.features, "?")),
            ("encoder params (trained)", param_count(ctx.run.encoder)),
            ("discriminator params", param_count(ctx.run.discriminator)),
            ("w, z size", f"{g.w_dim}, {g.z_dim}"),
            ("condition size", g.cond_dim),
            ("channels (base, max)", f"{g.channel_base}, {g.channel_max}"),
            ("mapping layers", g.mapping_layers),
            ("StyleSpace coordinates", ctx.run.generator.style_space().total),
        ]
    )
    n_steps = steps_done(ctx.run.path)
    train = kv_table(
        [
            ("steps done (planned)", f"{n_steps:,} ({t.steps:,})"),
            ("batch", t.batch),
            ("images seen", n_steps * t.batch),
            ("training time (approx.)", duration(train_seconds(ctx.run.path))),
            *_extra_train_rows(cfg),
            ("mode", "baseline (no classifier terms)" if ctx.run.baseline else "StylEx"),
            ("condition signal", t.cond_signal),
            ("learning rates (G, D, E)", f"{t.lr_g}, {t.lr_d}, {t.lr_e}"),
            (
                "λ (L1, perceptual, w, classifier)",
                f"{t.lambda_l1}, {t.lambda_perc}, {t.lambda_w}, {t.lambda_cls}",
            ),
            ("R1 γ (every)", f"{t.r1_gamma} ({t.r1_every})"),
            ("perceptual", t.perceptual),
        ]
    )
    cards = [card("Data", data), card("Classifier", clf), card("Models", models)]
    cards.append(card("Training", train))
    ex = ctx.explainer
    if ex is not None:
        r, e = ex.result, ex.effects
        cards.append(
            card(
                "AttFind",
                kv_table(
                    [
                        ("images", e.num_images),
                        ("coordinates searched", e.num_coords),
                        ("include toRGB", e.include_rgb),
                        ("shift size (shown)", f"{e.shift_size} ({ex.shift_size})"),
                        ("top-k", r.config.get("top_k")),
                        ("screening", r.config.get("screen")),
                        ("one direction per coordinate", r.config.get("one_direction", False)),
                        ("unstable images", r.config.get("num_unstable")),
                        ("seconds", r.config.get("seconds")),
                    ]
                ),
            )
        )
    return f'<div class="grid">{"".join(cards)}</div>'


def _extra_train_rows(cfg: RunConfig) -> list[tuple[str, Any]]:
    """The options beyond the paper, the run it was fine-tuned from (if any) and how many
    stages the run's hand-written ``history`` notes (shipped runs) describe."""
    t = cfg.train
    rows: list[tuple[str, Any]] = []
    if t.cond_sparsity or t.lambda_cf:
        rows += [
            ("class-sparse conditioning λ", t.cond_sparsity),
            ("counterfactual λ", t.lambda_cf),
        ]
    if t.lambda_cf_prox:
        rows.append(("counterfactual proximity λ", t.lambda_cf_prox))
    if t.cond_min_res:
        rows.append(("condition enters layers from", f"{t.cond_min_res} px"))
    if t.gan_every > 1:
        rows.append(("adversarial game", f"every {t.gan_every} steps"))
    if t.lambda_env or t.lambda_edge:
        rows.append(("λ (envelope, edge)", f"{t.lambda_env}, {t.lambda_edge}"))
    if cfg.init_from is not None:
        rows.append(("initialised from", cfg.init_from.run))
    history = cfg.history or []
    if history:
        rows.append(("training history", f"{len(history)} stages (config.json)"))
    return rows
