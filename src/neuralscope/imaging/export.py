"""Pipeline results to ``rois.npz``, NWB (ophys) and figures."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.io.atomic import atomic_path

__all__ = ["contours_figure", "traces_figure", "write_ophys_nwb", "write_rois_npz"]


def write_rois_npz(path: str | Path, result: Any) -> Path:
    """``footprints`` (n, H, W), ``centroids`` (n, 2), ``dff``, ``spike_rates`` (n, T) and the other traces."""
    with atomic_path(path, suffix=".npz.tmp") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, footprints=result.footprints.astype(np.float32),
                                centroids=result.centroids.astype(np.float64), dff=result.dff.astype(np.float32),
                                spike_rates=result.spike_rates.astype(np.float32), raw=result.raw.astype(np.float32),
                                neuropil=result.neuropil.astype(np.float32),
                                corrected=result.corrected.astype(np.float32), shifts=result.shifts.astype(np.float32),
                                mean_image=result.mean_image.astype(np.float32), fs=np.float64(result.fs),
                                neuropil_coefficient=np.float64(result.neuropil_coefficient))
    return Path(path)


def write_ophys_nwb(path: str | Path, result: Any,
                    session_description: str = "Two-photon imaging, neuralscope pipeline",
                    imaging_rate: float | None = None) -> Path:
    """An NWB file with ImageSegmentation / PlaneSegmentation (pixel masks),
    Fluorescence (raw, neuropil, corrected RoiResponseSeries) and DfOverF,
    plus the spike rates, in the ``ophys`` processing module."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel

    fs = float(imaging_rate or result.fs)
    nwb = NWBFile(session_description=session_description, identifier=str(uuid.uuid4()),
                  session_start_time=datetime.now(timezone.utc).replace(microsecond=0))
    device = nwb.create_device(name="Microscope", description="two-photon microscope (unknown model)")
    channel = OpticalChannel(name="OpticalChannel", description="green channel", emission_lambda=520.0)
    plane = nwb.create_imaging_plane(name="ImagingPlane", optical_channel=channel, description="imaging plane",
                                     device=device, excitation_lambda=920.0, imaging_rate=fs, indicator="unknown",
                                     location="unknown")
    ophys = nwb.create_processing_module(name="ophys", description="Registered movie -> ROIs -> traces")
    seg = ImageSegmentation(name="ImageSegmentation")
    ps = seg.create_plane_segmentation(name="PlaneSegmentation", description="ROIs found by neuralscope",
                                       imaging_plane=plane)
    ophys.add(seg)
    n = len(result.footprints)
    for i in range(n):
        ys, xs = np.nonzero(result.footprints[i])
        # NWB pixel masks are (x, y, weight) with x the column.
        ps.add_roi(pixel_mask=[(int(x), int(y), float(result.footprints[i, y, x])) for y, x in zip(ys, xs)])
    if n:
        region = ps.create_roi_table_region(region=list(range(n)), description="all ROIs")
        fl = Fluorescence(name="Fluorescence")
        ophys.add(fl)  # in the file before its series, so their ROI links share an ancestor
        for name, data, desc in (("RoiResponseSeries", result.corrected, "demixed, neuropil-subtracted fluorescence"),
                                 ("Raw", result.raw, "weighted mean of each ROI's pixels"),
                                 ("Neuropil", result.neuropil, "mean of each ROI's neuropil annulus")):
            fl.create_roi_response_series(name=name, data=np.ascontiguousarray(data.T), rois=region, unit="a.u.",
                                          rate=fs, description=desc)
        dff = DfOverF(name="DfOverF")
        ophys.add(dff)
        dff.create_roi_response_series(name="RoiResponseSeries", data=np.ascontiguousarray(result.dff.T), rois=region,
                                       unit="n.a.", rate=fs, description="dF/F (running-percentile baseline)")
        spikes = Fluorescence(name="InferredSpikes")
        ophys.add(spikes)
        spikes.create_roi_response_series(name="SpikeRates", data=np.ascontiguousarray(result.spike_rates.T),
                                          rois=region, unit="n.a.", rate=fs, description="expected spikes per frame")
    with atomic_path(path, suffix=".tmp.nwb") as tmp:
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
    return Path(path)


def contours_figure(image: np.ndarray, footprints: np.ndarray, true_masks: np.ndarray | None = None,
                    title: str = "mean image"):
    """Mean image with the detected contours (and the true ones, when given)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    lo, hi = np.percentile(image, [1, 99.5])
    ax.imshow(image, cmap="gray", vmin=lo, vmax=hi)
    if true_masks is not None:
        for m in true_masks:
            ax.contour(m.astype(float), levels=[0.5], colors="cyan", linewidths=0.8)
    for f in footprints:
        ax.contour((f > 0).astype(float), levels=[0.5], colors="orange", linewidths=0.8)
    ax.set_title(title + (" (orange: detected, cyan: true)" if true_masks is not None else " (orange: detected)"))
    ax.set_axis_off()
    return fig


def traces_figure(dff: np.ndarray, spike_rates: np.ndarray, fs: float, n: int = 8, truth: np.ndarray | None = None):
    """A few dF/F traces with their inferred spike rates (and true calcium when given)."""
    import matplotlib.pyplot as plt

    k = min(n, len(dff))
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.9 * max(k, 1)))
    t = np.arange(dff.shape[1]) / fs if len(dff) else np.zeros(0)
    order = np.argsort(-np.nanmax(dff, axis=1))[:k] if k else []
    for j, i in enumerate(order):
        off = j * 1.5
        scale = max(np.nanpercentile(dff[i], 99.5), 1e-3)
        ax.plot(t, off + dff[i] / scale, lw=0.7, color="k")
        if truth is not None:
            tr = truth[j] if truth.shape[0] == k else truth[i]
            ax.plot(t, off + tr / max(np.max(tr), 1e-3), lw=0.7, color="tab:green", alpha=0.8)
        sr = spike_rates[i]
        ax.plot(t, off - 0.3 + 0.5 * sr / max(sr.max(), 1e-6), lw=0.6, color="tab:red")
    ax.set_xlabel("time (s)")
    ax.set_yticks([])
    ax.set_title("dF/F (black, scaled)" + (", true calcium (green)" if truth is not None else "")
                 + ", inferred spike rate (red)")
    return fig
