"""torch.distributed glue shared by training and AttFind: joining torchrun's process group,
gradient averaging, reductions.

We average gradients by hand (one flattened all-reduce per optimiser step) instead of wrapping
the networks in DDP, because the R1 penalty needs double backward, which DDP does not support.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init_from_env(device_type: str) -> DistInfo:
    """Join the process group if launched by torchrun (WORLD_SIZE > 1): NCCL on GPU, else gloo."""
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), local)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), local)


def broadcast_params(modules, info: DistInfo) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if not info.enabled:
        return
    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(params, info: DistInfo) -> None:
    """All-reduce-average the gradients of ``params`` (missing grads count as zeros)."""
    if not info.enabled:
        return
    params = [p for p in params if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def all_reduce_mean_tensor(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if not info.enabled:
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t / info.world


def all_reduce_sum(t: torch.Tensor, info: DistInfo, device) -> torch.Tensor:
    """Sum ``t`` over ranks (reduced on ``device``, returned on the CPU)."""
    if not info.enabled:
        return t
    buf = t.to(device)
    dist.all_reduce(buf)
    return buf.cpu()


def broadcast_from_main(t: torch.Tensor, info: DistInfo, device) -> torch.Tensor:
    """Rank 0's ``t`` on every rank (same shape and dtype on all; sent on ``device``, returned
    on the CPU)."""
    if not info.enabled:
        return t
    buf = t.to(device).contiguous()
    dist.broadcast(buf, src=0)
    return buf.cpu()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
