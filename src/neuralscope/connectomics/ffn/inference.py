"""Flood-filling inference: seeds, FOV movement, iterative mask inference, segment acceptance.

For each seed (in order), the object's predicted object map (POM, logits) starts at 0.05
everywhere and 0.95 at the seed. The FOV is placed at the seed; the network updates the POM
inside the FOV; on each of the six faces of the centre cuboid (half-size ``delta``) the
highest probability is looked up, and where it reaches ``move_threshold`` the FOV position one
``delta`` step through that face is queued, scored by that probability. Positions therefore lie
on a ``delta`` lattice anchored at the seed (the same moves as in training); the queue is served
highest probability first and each lattice position is visited once. (Moving to the face
maximum itself, off the lattice, lost parts of objects when two nearby positions rounded to
one visited lattice point.) When
the queue is empty the object is the seed's connected piece of ``POM > segment_threshold``
over voxels no earlier object owns; objects below ``min_segment_size`` are rejected (their
voxels are not used as seeds again). Voxels owned by earlier objects are forced to background
in the POM, so objects never overlap within one run.
"""

from __future__ import annotations

import heapq
import time
from typing import Any

import numpy as np

from neuralscope.connectomics.ffn.model import POM_HIGH, POM_LOW, logit
from neuralscope.connectomics.ffn.training import face_scores
from neuralscope.core.errors import NeuralscopeError


def check_raw(raw: Any, name: str = "raw") -> np.ndarray:
    """A 3-D, non-empty, finite, numeric volume as a numpy array (else NeuralscopeError)."""
    arr = np.asarray(raw)
    if arr.ndim != 3:
        raise NeuralscopeError(name, "a 3-D volume (z, y, x)", f"{arr.ndim}-D array of shape {arr.shape}")
    if arr.size == 0:
        raise NeuralscopeError(name, "a non-empty volume", f"shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise NeuralscopeError(name, "a numeric volume", str(arr.dtype))
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise NeuralscopeError(name, "finite values", "NaN or inf")
    return arr


def peak_seeds(raw: np.ndarray, boundary: np.ndarray | None = None, sigma: float = 1.0,
               min_distance: int = 3, grid_spacing: int | None = None) -> np.ndarray:
    """Seed positions: maxima of the distance to the nearest boundary voxel, farthest first.

    Parameters
    ----------
    raw : numpy.ndarray
        3-D volume.
    boundary : numpy.ndarray, optional
        Boundary probability in [0, 1] (e.g. from a boundary network); voxels above 0.5 are
        boundary. Default: an edge estimate from ``raw`` (Gaussian gradient magnitude above
        its local, smoothed level).
    sigma : float
        Smoothing of the gradient estimate (voxels).
    min_distance : int
        Minimum separation of peaks (voxels).
    grid_spacing : int, optional
        Also add every grid point with this spacing (after the peaks, farthest first), so that
        regions without a clear peak still get seeds.

    Returns
    -------
    numpy.ndarray of int, shape (n, 3)
    """
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max

    if boundary is None:
        grad = ndi.gaussian_gradient_magnitude(raw.astype(np.float32), sigma)
        edges = grad > ndi.gaussian_filter(grad, 4.0 * sigma + 2.0)
    else:
        edges = np.asarray(boundary) > 0.5
    dist = ndi.distance_transform_edt(~edges).astype(np.float32)
    peaks = peak_local_max(dist, min_distance=int(min_distance), exclude_border=False)
    if len(peaks) == 0:
        peaks = np.array([np.unravel_index(int(np.argmax(dist)), dist.shape)])
    order = np.lexsort((*peaks.T[::-1], -dist[tuple(peaks.T)]))  # farthest first, ties by position
    seeds = [peaks[order]]
    if grid_spacing:
        g = [np.arange(int(grid_spacing) // 2, s, int(grid_spacing)) for s in raw.shape]
        grid = np.stack(np.meshgrid(*g, indexing="ij"), -1).reshape(-1, 3)
        if len(grid):
            gorder = np.lexsort((*grid.T[::-1], -dist[tuple(grid.T)]))
            seeds.append(grid[gorder])
    return np.concatenate(seeds).astype(np.int64)


class FloodFiller:
    """Segment a volume by flood-filling one object at a time.

    Parameters
    ----------
    model : torch.nn.Module
        ``model(raw_fov, pom_fov) -> pom_logits`` with a ``config`` carrying ``fov`` and
        ``delta`` (an :class:`~neuralscope.connectomics.ffn.model.FFNModel`).
    move_threshold : float
        Face probability needed to move the FOV there (paper: 0.9).
    segment_threshold : float
        POM probability above which a voxel joins the object (paper: 0.6).
    min_segment_size : int
        Objects with fewer voxels are rejected.
    max_steps_per_object : int
        Safety bound on FOV steps per object.
    normalize : bool
        Standardise ``raw`` by its own mean / std (what the shipped model expects).
    delta : tuple of int, optional
        FOV move step; default the model's training step ``model.config.delta``.
    optimize : bool
        Trace an :class:`~neuralscope.connectomics.ffn.model.FFNModel` into a frozen TorchScript
        graph for inference (fused convolutions; about 5x faster for one FOV on a CPU core).
        Outputs agree with the eager model to float32 rounding.
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda[:i]"``.

    Attributes
    ----------
    stats_ : dict
        After :meth:`segment`: ``steps``, ``seeds_tried``, ``objects``, ``rejected``, ``seconds``.
    """

    def __init__(self, model: Any, move_threshold: float = 0.9, segment_threshold: float = 0.6,
                 min_segment_size: int = 100, max_steps_per_object: int = 20000, normalize: bool = True,
                 delta: tuple[int, int, int] | None = None, optimize: bool = True, device: str = "auto") -> None:
        self.model = model
        self.move_threshold = move_threshold
        self.segment_threshold = segment_threshold
        self.min_segment_size = min_segment_size
        self.max_steps_per_object = max_steps_per_object
        self.normalize = normalize
        self.delta = delta
        self.optimize = optimize
        self.device = device

    def _network(self, device: Any, fov: np.ndarray) -> Any:
        import torch

        from neuralscope.connectomics.ffn.model import FFNModel

        model = self.model.to(device).eval()
        if not (self.optimize and isinstance(model, FFNModel)):
            return model  # arbitrary modules (e.g. test oracles) may have data-dependent control flow
        import warnings

        example = torch.zeros((1, 1, *(int(v) for v in fov)), device=device)
        try:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")  # TorchScript is deprecated in favour of torch.compile
                return torch.jit.optimize_for_inference(torch.jit.trace(model, (example, example)))
        except Exception:  # noqa: BLE001 - tracing is an optimisation only; eager is always correct
            return model

    def _prepare(self, raw: np.ndarray) -> np.ndarray:
        from neuralscope.connectomics.networks.training import volume_stats

        x = raw.astype(np.float32)
        if self.normalize:
            mean, std = volume_stats(raw)
            x = (x - np.float32(mean)) / np.float32(std)
        return x

    def segment(self, raw: Any, seeds: Any = None, seed_order: str = "forward", random_state: int = 0,
                progress: Any = None) -> np.ndarray:
        """Flood-fill ``raw``; returns uint64 ids (0 = not segmented), same shape.

        Parameters
        ----------
        raw : array-like, 3-D
            The EM volume (z, y, x).
        seeds : array-like of int, shape (n, 3), optional
            Seed positions, tried in order; default :func:`peak_seeds` plus a grid of spacing
            ``2 * max(delta)``.
        seed_order : {"forward", "reverse", "shuffle"}
            Order in which seeds are tried ("shuffle" uses ``random_state``).
        random_state : int
            Seed of the shuffle.
        progress : callable, optional
            Called as ``progress(done, total)`` after each seed.
        """
        import torch

        from neuralscope._torch import resolve_device

        raw = check_raw(raw)
        cfg = self.model.config
        fov = np.asarray(cfg.fov)
        delta = np.asarray(cfg.delta if self.delta is None else self.delta, dtype=np.int64)
        if delta.shape != (3,) or np.any(delta < 0) or np.any(delta > fov // 2):
            raise NeuralscopeError("delta", f"three steps 0 <= delta <= {tuple(fov // 2)}", self.delta)
        if not 0 < self.move_threshold <= 1 or not 0 < self.segment_threshold < 1:
            raise NeuralscopeError("move_threshold/segment_threshold", "values in (0, 1]",
                                   (self.move_threshold, self.segment_threshold))
        if seed_order not in ("forward", "reverse", "shuffle"):
            raise NeuralscopeError("seed_order", "'forward', 'reverse' or 'shuffle'", seed_order)
        device = resolve_device(self.device)
        shape = np.asarray(raw.shape)
        if seeds is None:
            seeds = peak_seeds(raw, min_distance=max(2, int(delta.max())), grid_spacing=2 * max(1, int(delta.max())))
        seeds = np.asarray(seeds, dtype=np.int64).reshape(-1, 3)
        if len(seeds) and (seeds.min() < 0 or np.any(seeds >= shape)):
            raise NeuralscopeError("seeds", f"positions inside the volume {tuple(shape)}", "out-of-range seeds")
        if seed_order == "reverse":
            seeds = seeds[::-1]
        elif seed_order == "shuffle":
            seeds = seeds[np.random.default_rng(random_state).permutation(len(seeds))]

        half = fov // 2
        pad = [(int(h), int(h)) for h in half]
        image = np.pad(self._prepare(raw), pad)  # zero = the volume mean after standardisation
        low = logit(POM_LOW)
        pom = np.full(image.shape, low, np.float32)
        owner = np.zeros(image.shape, np.int64)  # object ids in padded coordinates
        tried = np.zeros(image.shape, bool)
        seg_logit = logit(self.segment_threshold)
        network = self._network(device, fov)
        t0 = time.perf_counter()
        stats = {"steps": 0, "seeds_tried": 0, "objects": 0, "rejected": 0}
        next_id = 1
        with torch.inference_mode():
            for k, s in enumerate(seeds):
                p = tuple(int(v) for v in s + half)
                if owner[p] or tried[p]:
                    continue
                stats["seeds_tried"] += 1
                obj, ilo, ihi, lo, hi, steps = self._fill(network, np.asarray(p), image, pom, owner, delta, half,
                                                          shape, low, seg_logit, device)
                stats["steps"] += steps
                box = tuple(slice(int(a), int(b)) for a, b in zip(ilo, ihi))
                if obj is not None and int(obj.sum()) >= self.min_segment_size:
                    owner[box][obj] = next_id
                    next_id += 1
                    stats["objects"] += 1
                else:
                    stats["rejected"] += 1
                    tried[p] = True
                    if obj is not None:
                        tried[box] |= obj
                pom[tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))] = low  # reset all the object touched
                if progress is not None:
                    progress(k + 1, len(seeds))
        stats["seconds"] = time.perf_counter() - t0
        self.stats_ = stats
        crop = tuple(slice(int(h), int(h + n)) for h, n in zip(half, shape))
        return owner[crop].astype(np.uint64)

    def _fill(self, network, seed, image, pom, owner, delta, half, shape, low, seg_logit, device):
        """Flood-fill one object from ``seed`` (padded coordinates).

        Returns the object mask (or None) over the in-volume box ``[ilo, ihi)``, that box, the
        touched box ``[lo, hi)`` (padding included, for the POM reset) and the step count.
        """
        import torch
        from scipy import ndimage as ndi

        pom[tuple(seed)] = logit(POM_HIGH)
        lo, hi = seed - half, seed + half + 1
        step = np.maximum(delta, 1)
        heap: list = [(-1.0, 0, tuple(seed))]
        visited: set = set()
        counter, steps = 1, 0
        while heap and steps < self.max_steps_per_object:
            _, _, pos = heapq.heappop(heap)
            pos = np.asarray(pos)
            key = tuple(np.floor((pos - seed) / step + 0.5).astype(int))
            if key in visited:
                continue
            visited.add(key)
            sel = tuple(slice(int(c - h), int(c + h + 1)) for c, h in zip(pos, half))
            x = torch.from_numpy(np.ascontiguousarray(image[sel])[None, None]).to(device)
            m = torch.from_numpy(np.ascontiguousarray(pom[sel])[None, None]).to(device)
            out = network(x, m)[0, 0].float().cpu().numpy()
            taken = owner[sel] != 0
            if taken.any():
                out[taken] = np.minimum(out[taken], low)
            pom[sel] = out
            steps += 1
            lo, hi = np.minimum(lo, pos - half), np.maximum(hi, pos + half + 1)
            prob = 1.0 / (1.0 + np.exp(-out))
            for score, axis, sign, _ in face_scores(prob, delta):
                if score < self.move_threshold:
                    continue
                new = pos.copy()
                new[axis] += sign * delta[axis]
                if new[axis] < half[axis] or new[axis] >= half[axis] + shape[axis]:
                    continue  # the FOV centre stays inside the volume
                nkey = tuple(np.floor((new - seed) / step + 0.5).astype(int))
                if nkey not in visited:
                    heapq.heappush(heap, (-score, counter, tuple(int(v) for v in new)))
                    counter += 1
        # The object lives inside the volume only: the padding must not connect pieces.
        ilo, ihi = np.maximum(lo, half), np.minimum(hi, half + shape)
        box = tuple(slice(int(a), int(b)) for a, b in zip(ilo, ihi))
        mask = (pom[box] > seg_logit) & (owner[box] == 0)
        local = tuple(seed - ilo)
        if not mask[local]:
            return None, ilo, ihi, lo, hi, steps
        comps, _ = ndi.label(mask)
        return comps == comps[local], ilo, ihi, lo, hi, steps
