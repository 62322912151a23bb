"""Training the built-in small CNN on a dataset and saving it as TorchScript with its contract."""

from __future__ import annotations

import math
import os
import time
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from stylex.classifier.cnn import build_small_cnn
from stylex.classifier.contract import ClassifierContract
from stylex.classifier.diagnose import check_classifier
from stylex.classifier.loading import load_classifier, save_torchscript
from stylex.errors import ClassifierError, DataError
from stylex.utils.images import from_uint8


def _evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int, device):
    model.eval()
    correct, loss, n = 0, 0.0, len(labels)
    with torch.no_grad():
        for s in range(0, n, batch):
            x = from_uint8(images[s : s + batch].to(device))
            y = labels[s : s + batch].to(device)
            out = model(x)
            loss += float(F.cross_entropy(out, y, reduction="sum"))
            correct += int((out.argmax(1) == y).sum())
    return correct / max(n, 1), loss / max(n, 1)


def train_classifier(
    dataset,
    out_path: str | os.PathLike,
    epochs: int = 5,
    batch: int = 128,
    lr: float = 2e-3,
    val_fraction: float = 0.1,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    augment: bool = False,
    width: int = 32,
) -> dict:
    """Train :func:`build_small_cnn` on ``dataset`` and save it as TorchScript with its contract.

    Adam with a one-cycle learning-rate schedule, cross-entropy, a stratified validation split
    by ``seed``. ``augment`` adds random ±2 px shifts (off by default: it is label-preserving
    only when the label does not depend on exact position). The file is written atomically
    and reloaded through :func:`load_classifier` + :func:`check_classifier` as a final check.

    Returns ``{"val_accuracy", "val_loss", "train_accuracy", "train_time_s", "epochs",
    "steps", "num_train", "num_val", "path", "contract", "history"}``.
    """
    from tqdm.auto import tqdm

    from stylex.runtime import resolve_device

    if not dataset.labelled:
        raise DataError(
            f"{dataset.name} has no labels (images without class sub-folders, or an .npz "
            "without 'labels'): a classifier is trained on labelled data, one sub-folder per "
            "class; stylex explains an existing classifier on unlabelled data"
        )
    dev = resolve_device(device)
    torch.manual_seed(seed)
    if val_fraction > 0:
        train_set, val_set = dataset.split(val_fraction, seed)
    else:
        train_set, val_set = dataset, dataset.subset([])
    if len(train_set) == 0:
        raise ClassifierError(f"{dataset.name}: no training images")
    model = build_small_cnn(dataset.channels, dataset.num_classes, dataset.resolution, width).to(
        dev
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(train_set) / batch)
    total = max(1, epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15)
    gen = torch.Generator().manual_seed(seed)
    images, labels = train_set.images, train_set.labels
    if dev.type != "cpu":
        images, labels = images.to(dev), labels.to(dev)
    history = []
    t0 = time.perf_counter()
    step = 0
    bar = tqdm(total=total, disable=not progress, desc="train-classifier", unit="step")
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(train_set), generator=gen).to(images.device)
        seen, correct, loss_sum = 0, 0, 0.0
        for s in range(0, len(perm), batch):
            idx = perm[s : s + batch]
            x = from_uint8(images[idx])
            y = labels[idx]
            if augment:
                dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=gen))
                x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            seen += len(y)
            correct += int((out.argmax(1) == y).sum())
            loss_sum += float(loss.detach()) * len(y)
            bar.update(1)
            bar.set_postfix(
                epoch=epoch + 1, loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}"
            )
        val_acc, val_loss = (
            _evaluate(model, val_set.images, val_set.labels, 512, dev)
            if len(val_set)
            else (float("nan"),) * 2
        )
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": loss_sum / max(seen, 1),
                "train_accuracy": correct / max(seen, 1),
                "val_loss": val_loss,
                "val_accuracy": val_acc,
                "time_s": time.perf_counter() - t0,
            }
        )
        if progress:
            bar.write(
                f"epoch {epoch + 1}/{epochs}: train acc {correct / max(seen, 1):.4f}, "
                f"val acc {val_acc:.4f}, val loss {val_loss:.4f}"
            )
    bar.close()
    train_time = time.perf_counter() - t0
    model = model.cpu().eval()
    contract = ClassifierContract.for_data(dataset)
    path = save_torchscript(model, contract, out_path)
    # final check: the saved file loads and agrees with the data
    check_set = val_set if len(val_set) else train_set
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_classifier(load_classifier(path), check_set, batch=min(64, len(check_set)))
    last = history[-1] if history else {}
    return {
        "val_accuracy": last.get("val_accuracy", float("nan")),
        "val_loss": last.get("val_loss", float("nan")),
        "train_accuracy": last.get("train_accuracy", float("nan")),
        "train_time_s": train_time,
        "epochs": epochs,
        "steps": step,
        "num_train": len(train_set),
        "num_val": len(val_set),
        "path": str(path),
        "contract": contract.to_dict(),
        "history": history,
    }
