"""Section "Reconstructions": held-out images beside G(E(x)), with the class probability."""

from __future__ import annotations

from stylex.report.context import ReportContext
from stylex.report.html import esc, img_tag, missing


def reconstructions_section(ctx: ReportContext) -> str:
    idx = ctx.held_out(ctx.opt.num_reconstructions)
    if not idx:
        return missing("The run has no held-out images.")
    real = ctx.val.float_images(idx)
    recon = ctx.run.reconstruct(real).cpu()
    p_real, p_rec = ctx.run.probs(real).cpu(), ctx.run.probs(recon).cpu()
    figs = []
    for j, i in enumerate(idx):
        y = int(ctx.val.labels[i])
        pr, pc = int(p_real[j].argmax()), int(p_rec[j].argmax())
        same = pr == pc
        cls = "pair" if same else "pair flip"
        figs.append(
            f'<figure class="{cls}"><div class="imgs">'
            + img_tag(real[j], ctx.scale, "original")
            + img_tag(recon[j], ctx.scale, "reconstruction", "after")
            + f"</div><figcaption>label <b>{esc(ctx.names[y])}</b><br>"
            f"p({esc(ctx.names[pr])}) {p_real[j, pr]:.2f} → {p_rec[j, pr]:.2f}"
            + ("" if same else ' <span class="flip-text">class changed</span>')
            + "</figcaption></figure>"
        )
    return (
        '<p class="note">Held-out images (left) and their reconstructions G(E(x)) (right); '
        "the caption gives the classifier's probability of the class it predicts on the "
        "original, before → after.</p>"
        f'<div class="row">{"".join(figs)}</div>'
    )
