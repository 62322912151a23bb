"""Train a deliberately different classifier of a run's data: the built-in small CNN behind a
fixed box blur (it sees only coarse shapes, no fine texture), saved as TorchScript with the
same contract (classes, range, size, channels) as the run's classifier. Used to show
``stylex attfind --run RUN --classifier OTHER`` and the classifier alignment of
``stylex evaluate`` on real data:

    python scripts/blurred_classifier.py --run runs/demo-fashion-mnist --out /tmp/blur.pt
    stylex attfind --run runs/demo-fashion-mnist --classifier /tmp/blur.pt --screen
    stylex evaluate --run runs/demo-fashion-mnist      # prints the alignment line
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from stylex.classifier import ClassifierContract, build_small_cnn, save_torchscript
from stylex.run import Run


class Blurred(nn.Module):
    """``net(box_blur(x))``: a k×k mean filter (zero padding not counted) before the CNN."""

    def __init__(self, net: nn.Module, kernel: int):
        super().__init__()
        self.net, self.kernel = net, kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel
        return self.net(F.avg_pool2d(x, k, stride=1, padding=k // 2, count_include_pad=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kernel", type=int, default=5, help="box blur size (odd)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    run = Run.load(args.run, device="cpu", discriminator=False)
    train, val = run.dataset("train"), run.dataset("val")
    torch.manual_seed(args.seed)
    model = Blurred(
        build_small_cnn(train.channels, train.num_classes, train.resolution), args.kernel
    )
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = train.float_images(), train.labels
    for _ in range(args.steps):
        idx = torch.randint(0, len(y), (64,))
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(val.float_images()).argmax(1) == val.labels).float().mean())
        base = float((run.classifier(val.float_images()).argmax(1) == val.labels).float().mean())
    contract = ClassifierContract.for_data(train)
    save_torchscript(model, contract, args.out)
    print(f"wrote {args.out}: held-out accuracy {acc:.3f} (the run's classifier: {base:.3f})")


if __name__ == "__main__":
    main()
