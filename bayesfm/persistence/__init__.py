r"""Save and load fitted estimators as data (JSON plus netCDF), never pickle.

A model file is one self-checking container::

    MAGIC                    b"\x89BAYESFM\r\n\x1a\n" (PNG-style: catches text-mode copies)
    header line              canonical JSON + b"\n": format_version, config_length,
                             payload_length and sha256 (of config + payload bytes)
    config                   UTF-8 JSON: estimator class name, get_params(), fitted state
                             (design template, encoder state, ...), DataTree attributes,
                             idata_sha256 (a digest of every array written) and, from format
                             version 2, ``recomputed``: the variables left out of the payload
    payload                  ``idata_`` written by xarray as a netCDF4 (HDF5) file; from
                             version 2 its numeric arrays of 4 KiB or more are compressed
                             (gzip + byte shuffle, lossless) and the ``y`` of the
                             ``log_likelihood`` group is left out (its coordinates stay)

:func:`load` checks the magic, the header, the exact file length and the SHA-256 before it
parses anything, so one flipped or missing byte anywhere is refused with
:class:`ModelFileError`; after parsing it checks ``idata_sha256`` against the decoded arrays,
so what the decoder returns is bit for bit what was saved. It then computes the variables
left out from the ones it checked (the pointwise log likelihood, from the draws, ``y``, the
sample weights and the training rows in ``constant_data``; see
:func:`bayesfm.results.recompute_log_likelihood`). Every format version from
:data:`MIN_FORMAT_VERSION` to :data:`FORMAT_VERSION` loads. Only JSON and netCDF are ever
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
