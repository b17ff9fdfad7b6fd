"""Reading and writing neural data.

- :func:`load` -- activity from ``.npz``, ``.mat``, ``.csv`` or ``.nwb``, by extension
- :func:`read_npz` / :func:`write_npz`, :func:`read_mat`, :func:`read_csv` -- array files
- :func:`read_nwb` / :func:`write_nwb` -- Neurodata Without Borders files
- :func:`load_m1_reaching`, :func:`load_bci_golub2018`, :func:`load_mtl_nwb` -- the shared real data sets
- :func:`atomic_path` and friends -- writes that land whole or not at all
"""

from neuralscope.io.arrays import check_input_file, read_csv, read_mat, read_npz, write_npz
from neuralscope.io.atomic import atomic_directory, atomic_path, write_bytes_atomic, write_text_atomic
from neuralscope.io.loader import SUPPORTED_SUFFIXES, load, nwb_to_activity
from neuralscope.io.nwb import NWBContents, SessionMetadata, write_nwb
from neuralscope.io.nwb_read import read_nwb
from neuralscope.io.realdata import (
    BCILearningData,
    load_bci_golub2018,
    load_m1_reaching,
    load_mtl_nwb,
    shared_data_dir,
)

__all__ = [
    "BCILearningData",
    "NWBContents",
    "SUPPORTED_SUFFIXES",
    "SessionMetadata",
    "atomic_directory",
    "atomic_path",
    "check_input_file",
    "load",
    "load_bci_golub2018",
    "load_m1_reaching",
    "load_mtl_nwb",
    "nwb_to_activity",
    "read_csv",
    "read_mat",
    "read_npz",
    "read_nwb",
    "shared_data_dir",
    "write_bytes_atomic",
    "write_nwb",
    "write_npz",
    "write_text_atomic",
]
