"""NWB writer/reader: DANDI-clean files, exact round trips, atomic writes, read-only reads."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import h5py
import numpy as np
import pandas as pd
import pytest

from neuralscope.core import ContinuousActivity, NeuralscopeError, SpikeTrains
from neuralscope.io import SessionMetadata, read_nwb, write_nwb

pytest.importorskip("pynwb")

DURATION = 20.0


@pytest.fixture(scope="module")
def session():
    rng = np.random.default_rng(7)
    times = [np.sort(rng.uniform(0.01, DURATION - 0.01, n)) for n in (40, 75, 120, 60)]
    units = pd.DataFrame({"area": ["M1", "M1", "PMd", "PMd"], "depth_um": [120, 340, 560, 900],
                          "snr": [3.5, 4.25, 2.0, 6.5]})
    spikes = SpikeTrains(times, units=units, t_start=0.0, t_stop=DURATION)
    binned = spikes.bin(0.05)
    t = binned.times
    position = np.c_[0.1 * np.sin(t), 0.1 * np.cos(t)]
    activity = ContinuousActivity(
        binned.data, fs=binned.fs, t0=binned.t0, unit_ids=binned.unit_ids,
        covariates={"position": position, "velocity": np.gradient(position, 0.05, axis=0),
                    "speed": np.abs(np.sin(t))},
    )
    starts = np.arange(12) * 1.5 + 0.2
    trials = pd.DataFrame({
        "start_time": starts, "stop_time": starts + 1.0,
        "stimulus": ["grating", "noise", "face"] * 4,
        "orientation": (np.arange(12) * 45) % 180,
        "correct": [1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0],
        "reaction_time": rng.uniform(0.2, 0.6, 12),
    })
    return spikes, activity, trials


@pytest.fixture(scope="module")
def written(session, tmp_path_factory):
    spikes, activity, trials = session
    path = tmp_path_factory.mktemp("nwb") / "session.nwb"
    meta = SessionMetadata(session_start_time=datetime(2024, 3, 5, 10, 30, tzinfo=timezone.utc),
                           identifier="test-session-1", subject_id="mouse-7", experimenter=("Doe, Jane",))
    write_nwb(path, spikes=spikes, activity=activity, trials=trials, metadata=meta,
              intervals={"encoding_table": trials.iloc[:5]},
              covariate_units={"position": "meters", "velocity": "m/s"}, activity_unit="counts")
    return path


def _inspect(path):
    from nwbinspector import inspect_nwbfile, load_config

    # Default importance threshold: every message, suggestions included; pynwb validation runs too.
    return [m for m in inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi")) if m is not None]


def test_written_file_passes_nwbinspector_dandi_with_no_messages(written):
    messages = _inspect(written)
    assert messages == [], "\n".join(f"{m.check_function_name}: {m.message}" for m in messages)


def test_default_metadata_also_passes_nwbinspector(session, tmp_path):
    spikes, _, trials = session
    path = write_nwb(tmp_path / "defaults.nwb", spikes=spikes, trials=trials)
    messages = _inspect(path)
    assert messages == [], "\n".join(f"{m.check_function_name}: {m.message}" for m in messages)


def test_inspector_would_catch_a_flaw(session, tmp_path):
    # Guard against the zero-message test passing vacuously: a real flaw is reported.
    spikes, _, _ = session
    path = write_nwb(tmp_path / "flawed.nwb", spikes=spikes, metadata={"species": "mouse"})
    assert "check_subject_species_form" in {m.check_function_name for m in _inspect(path)}


def test_round_trip_spikes_behaviour_trials_activity(session, written):
    spikes, activity, trials = session
    contents = read_nwb(written)
    assert contents.spikes.n_units == 4
    for original, read in zip(spikes.times, contents.spikes.times):
        np.testing.assert_array_equal(read, original)
    np.testing.assert_array_equal(contents.spikes.unit_ids, spikes.unit_ids)
    assert (contents.spikes.t_start, contents.spikes.t_stop) == (0.0, DURATION)
    pd.testing.assert_frame_equal(contents.spikes.units, spikes.units, check_dtype=False)
    assert contents.spikes.units["depth_um"].dtype == np.int64

    for name in ("position", "velocity", "speed"):
        times, values = contents.behaviour[name]
        np.testing.assert_allclose(times, activity.times, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(values, activity.covariates[name])

    pd.testing.assert_frame_equal(contents.trials, trials, check_dtype=False)
    assert contents.trials["stimulus"].tolist() == trials["stimulus"].tolist()
    assert contents.trials["correct"].dtype == np.int64
    pd.testing.assert_frame_equal(contents.tables["encoding_table"], trials.iloc[:5], check_dtype=False)

    act = contents.activity
    np.testing.assert_array_equal(act.data, activity.data)
    assert act.fs == pytest.approx(activity.fs) and act.t0 == activity.t0
    np.testing.assert_array_equal(act.unit_ids, activity.unit_ids)
    assert set(act.covariates) == {"position", "velocity", "speed"}
    np.testing.assert_array_equal(act.covariates["velocity"], activity.covariates["velocity"])


def test_metadata_round_trip(written):
    meta = read_nwb(written).metadata
    assert meta["identifier"] == "test-session-1"
    assert meta["subject_id"] == "mouse-7" and meta["species"] == "Mus musculus"
    assert meta["sex"] == "U" and meta["age"] == "P90D"
    assert meta["experimenter"] == ("Doe, Jane",)
    assert meta["session_start_time"] == datetime(2024, 3, 5, 10, 30, tzinfo=timezone.utc)


def test_read_never_modifies_the_file(written):
    before = hashlib.sha256(written.read_bytes()).hexdigest()
    mtime = written.stat().st_mtime_ns
    read_nwb(written)
    assert hashlib.sha256(written.read_bytes()).hexdigest() == before
    assert written.stat().st_mtime_ns == mtime


def test_text_unit_ids_and_unsorted_trials(tmp_path):
    spikes = SpikeTrains([np.array([0.5, 1.25]), np.array([0.75, 1.5, 2.5])],
                         unit_ids=np.array(["a1", "b2"]), t_start=0.0, t_stop=3.0)
    trials = pd.DataFrame({"start_time": [2.0, 0.5, 1.0], "stop_time": [2.5, 0.9, 1.4], "label": ["c", "a", "b"]})
    path = write_nwb(tmp_path / "ids.nwb", spikes=spikes, trials=trials)
    contents = read_nwb(path)
    assert contents.spikes.unit_ids.tolist() == ["a1", "b2"]
    assert contents.spikes.units.shape == (2, 0)  # "unit_name" became the ids, not a column
    # rows are stored in time order, as NWB asks
    assert contents.trials["label"].tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(contents.trials["start_time"], [0.5, 1.0, 2.0])


def test_failed_write_leaves_no_file_and_keeps_existing(session, tmp_path):
    spikes, _, trials = session
    target = tmp_path / "out.nwb"
    bad = trials.drop(columns="stop_time")
    with pytest.raises(NeuralscopeError, match="stop_time"):
        write_nwb(target, spikes=spikes, trials=bad)
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"previous content")
    with pytest.raises(NeuralscopeError):
        write_nwb(target, spikes=spikes, trials=bad.assign(stop_time=np.nan))
    assert target.read_bytes() == b"previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.nwb"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "at least one of"),
        ({"trials": pd.DataFrame({"start_time": [1.0, 2.0], "stop_time": [0.5, 3.0]})}, "stop_time >= start_time"),
        ({"trials": "not a table"}, "DataFrame"),
        ({"spikes": np.zeros(3)}, "SpikeTrains"),
        ({"activity": np.zeros((3, 2))}, "ContinuousActivity"),
        ({"trials": pd.DataFrame({"start_time": [0.0], "stop_time": [1.0]}), "metadata": {"subjectid": "x"}},
         "keys among"),
    ],
)
def test_write_rejects_bad_input(tmp_path, kwargs, match):
    with pytest.raises(NeuralscopeError, match=match):
        write_nwb(tmp_path / "x.nwb", **kwargs)
    assert not any(tmp_path.iterdir())


def test_naive_start_time_is_taken_as_utc(tmp_path):
    trials = pd.DataFrame({"start_time": [0.0, 1.0], "stop_time": [0.5, 1.5]})
    path = write_nwb(tmp_path / "t.nwb", trials=trials,
                     metadata={"session_start_time": datetime(2023, 1, 2, 3, 4, 5)})
    start = read_nwb(path).metadata["session_start_time"]
    assert start == datetime(2023, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(NeuralscopeError, match="does not exist"):
        read_nwb(tmp_path / "missing.nwb")
    with pytest.raises(NeuralscopeError, match="directory"):
        read_nwb(tmp_path)
    text = tmp_path / "text.nwb"
    text.write_text("not hdf5")
    with pytest.raises(NeuralscopeError, match="text.nwb.*not HDF5"):
        read_nwb(text)
    plain = tmp_path / "plain.nwb"
    with h5py.File(plain, "w") as handle:
        handle["x"] = np.arange(3)
    with pytest.raises(NeuralscopeError, match="plain.nwb: expected a readable NWB file"):
        read_nwb(plain)
