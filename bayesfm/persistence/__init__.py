r"""Save and load fitted estimators as data (JSON plus netCDF), never pickle.

A model file is one self-checking container::

    MAGIC                    b"\x89BAYESFM\r\n\x1a\n" (PNG-style: catches text-mode copies)
    header line              canonical JSON + b"\n": format_version, config_length,
                             payload_length and sha256 (of config + payload bytes)
    config                   UTF-8 JSON: estimator class name, get_params(), fitted state
                             (design template, encoder state, ...), DataTree attributes and
                             idata_sha256 (a digest of every array of ``idata_``)
    payload                  ``idata_`` written by xarray as a netCDF4 (HDF5) file

:func:`load` checks the magic, the header, the exact file length and the SHA-256 before it
parses anything, so one flipped or missing byte anywhere is refused with
:class:`ModelFileError`; after parsing it checks ``idata_sha256`` against the decoded arrays,
so what the decoder returns is bit for bit what was saved. Only JSON and netCDF are ever
decoded: netCDF has no object type and h5py maps variable-length strings to ``str``, so no
code path unpickles, and the estimator class comes from a closed allow-list: the estimator
classes register themselves here (:func:`register_estimator`), so this module never imports
them and sits below the estimators in the package's layers.
"""

from bayesfm.persistence.container import (
    FORMAT_VERSION,
    MAGIC,
    MIN_FORMAT_VERSION,
    ModelFileError,
)
from bayesfm.persistence.model_file import load, register_estimator, save_model

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MIN_FORMAT_VERSION",
    "ModelFileError",
    "load",
    "register_estimator",
    "save_model",
]
