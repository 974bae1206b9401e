"""Connected-component labelling on any torch device, replacing ``sam3.perflib.connected_components``.

Upstream labels with cc_torch or a triton kernel on CUDA, and with ``skimage.measure.label`` per
image on every other device; that CPU path crashes on an empty batch (``torch.stack([])``).
This module computes the CPU path's result with vectorized torch ops on the input's device:

- pixels are foreground when nonzero; a component is a connected set of pixels of the *same value*
  (skimage's rule), 8-connected by default as in upstream (``connectivity=1`` gives 4-connectivity);
- labels are dense per image, ``1..num`` in raster order of each component's first pixel, 0 on
  background (exactly ``skimage.measure.label``); counts give each pixel its component's area;
- both outputs have shape ``(B, 1, H, W)`` on the input's device and skimage's label dtype, as
  upstream's CPU path: int32 for a bool input, int64 otherwise; an empty batch gives empty outputs.

Algorithm: every pixel starts as its own root (its global linear index); rounds of neighbour
minimum propagation, root hooking (``scatter_reduce`` amin) and pointer jumping run until nothing
changes. Each component then has the root of its smallest linear index, i.e. its first pixel.
"""

from __future__ import annotations

import torch

HAS_CC_TORCH = False
"""Upstream's flag for the optional cc_torch CUDA extension; this replacement never uses it."""

_SKIMAGE_CONNECTIVITY_OFFSETS: dict[int, tuple[tuple[int, int], ...]] = {
    1: ((0, 1), (1, 0)),
    2: ((0, 1), (1, 0), (1, 1), (1, -1)),
}
"""skimage connectivity -> (dy, dx) neighbour offsets, one per undirected pixel pair."""


def _pair_slices(offset: tuple[int, int], height: int, width: int) -> tuple[tuple, tuple]:
    """Index tuples selecting the pixels ``a`` and their neighbours ``a + offset`` in (B, H, W)."""
    dy, dx = offset
    rows_a, rows_b = slice(0, height - dy), slice(dy, height)
    cols_a = slice(max(0, -dx), width - max(0, dx))
    cols_b = slice(max(0, dx), width - max(0, -dx))
    return (slice(None), rows_a, cols_a), (slice(None), rows_b, cols_b)


def _component_roots(values: torch.Tensor, connectivity: int) -> torch.Tensor:
    """For a (B, H, W) tensor, each pixel's smallest global linear index in its component.

    Background pixels get the sentinel ``B * H * W``. Returned flat, with the sentinel appended.
    """
    batch, height, width = values.shape
    numel = values.numel()
    foreground = values != 0
    linear = torch.arange(numel, device=values.device, dtype=torch.int64).view_as(values)
    sentinel = torch.full((1,), numel, device=values.device, dtype=torch.int64)
    parent = torch.cat([torch.where(foreground, linear, numel).flatten(), sentinel])
    jumps = max(1, numel.bit_length())
    pairs = []
    for offset in _SKIMAGE_CONNECTIVITY_OFFSETS[connectivity]:
        side_a, side_b = _pair_slices(offset, height, width)
        joined = foreground[side_a] & (values[side_a] == values[side_b])
        pairs.append((side_a, side_b, joined))

    while True:
        previous = parent
        roots = parent[:numel].view(batch, height, width)
        smallest_seen = roots.clone()
        for side_a, side_b, joined in pairs:
            from_b = torch.where(joined, roots[side_b], numel)
            from_a = torch.where(joined, roots[side_a], numel)
            torch.minimum(smallest_seen[side_a], from_b, out=smallest_seen[side_a])
            torch.minimum(smallest_seen[side_b], from_a, out=smallest_seen[side_b])
        proposal = smallest_seen.flatten()
        parent = parent.scatter_reduce(0, parent[:numel], proposal, reduce="amin")
        parent[:numel] = torch.minimum(parent[:numel], proposal)
        for _ in range(jumps):  # pointer doubling: a chain of n links is flat after log2(n) jumps, no host check
            parent = parent[parent]
        if torch.equal(parent, previous):  # the one host sync per round: has anything changed?
            return parent


def connected_components_with_connectivity(
    input_tensor: torch.Tensor, connectivity: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels and per-pixel component areas of a (B, H, W) or (B, 1, H, W) batch.

    Matches ``skimage.measure.label(image, connectivity=connectivity)`` per image (labels) and
    upstream ``connected_components_cpu`` (areas). Returns (B, 1, H, W) tensors, int32 for a bool
    input and int64 otherwise (skimage's label dtype, which upstream's CPU path passes on).
    """
    if connectivity not in _SKIMAGE_CONNECTIVITY_OFFSETS:
        raise ValueError(f"connectivity must be 1 (4-connected) or 2 (8-connected), got {connectivity}")
    if input_tensor.dim() == 4 and input_tensor.shape[1] == 1:
        values = input_tensor.squeeze(1)
    elif input_tensor.dim() == 3:
        values = input_tensor
    else:
        raise ValueError(
            f"connected_components expects (B, H, W) or (B, 1, H, W), got {tuple(input_tensor.shape)}"
        )
    batch, height, width = values.shape
    out_shape = (batch, 1, height, width)
    numel = values.numel()
    out_dtype = torch.int32 if values.dtype == torch.bool else torch.int64
    if numel == 0:
        empty = torch.zeros(out_shape, dtype=out_dtype, device=input_tensor.device)
        return empty, empty.clone()

    parent = _component_roots(values, connectivity)
    roots = parent[:numel]
    foreground = roots < numel
    linear = torch.arange(numel, device=roots.device, dtype=torch.int64)
    is_first_pixel = (roots == linear).view(batch, height * width)
    dense_label_at_first_pixel = torch.cat(
        [is_first_pixel.cumsum(dim=1).flatten(), torch.zeros(1, dtype=torch.int64, device=roots.device)]
    )
    labels = torch.where(foreground, dense_label_at_first_pixel[roots], 0)
    areas_by_root = torch.zeros(numel + 1, dtype=torch.int64, device=roots.device)
    areas_by_root.index_add_(0, roots, torch.ones_like(roots))
    areas = torch.where(foreground, areas_by_root[roots], 0)
    return labels.to(out_dtype).view(out_shape), areas.to(out_dtype).view(out_shape)


def connected_components(input_tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop-in for upstream ``connected_components``: 8-connected labels and areas on any device.

    Args:
        input_tensor: (B, H, W) or (B, 1, H, W); nonzero pixels are foreground, bool accepted.

    Returns:
        ``(labels, areas)``, (B, 1, H, W) on the input's device, equal (values and dtype) to
        upstream's CPU (skimage) path; an empty batch gives empty tensors instead of upstream's crash.
    """
    return connected_components_with_connectivity(input_tensor, connectivity=2)


def connected_components_cpu(input_tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Upstream name for the skimage path; the same result as :func:`connected_components`.

    Unlike upstream, the output keeps the input's shape ((B, H, W) stays 3-D) and an empty batch
    works.
    """
    labels, areas = connected_components_with_connectivity(input_tensor, connectivity=2)
    return labels.view(input_tensor.shape), areas.view(input_tensor.shape)


def connected_components_cpu_single(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Upstream name: labels and areas of one (H, W) image, as (H, W) tensors on CPU."""
    if values.dim() != 2:
        raise ValueError(f"connected_components_cpu_single expects (H, W), got {tuple(values.shape)}")
    labels, areas = connected_components_with_connectivity(values.unsqueeze(0), connectivity=2)
    return labels[0, 0].cpu(), areas[0, 0].cpu()


__all__ = [
    "HAS_CC_TORCH",
    "connected_components",
    "connected_components_cpu",
    "connected_components_cpu_single",
    "connected_components_with_connectivity",
]
