"""Make the format-version-1 model files that tests/persistence/test_formats.py loads.

Run at commit 703f064 (the last commit writing format version 1), from the repository root:

    python tests/persistence/data/make_v1_fixtures.py

Writes one small Gibbs fit of every estimator kind (``v1_<kind>.bfm``, pointwise log
likelihood included, as version 1 stores it) and ``v1_expected.npz``: the rows they were
fitted on and what each model predicted on them when it was saved.
"""

import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

from bayesfm import BayesianFMClassifier, BayesianFMOrdinal, BayesianFMRegressor  # noqa: E402
from bayesfm.data import simulate_fm  # noqa: E402

HERE = Path(__file__).parent
COMMON = dict(rank=2, num_warmup=10, num_samples=15, random_state=0, progress_bar=False)


def main() -> None:
    """Fit, save and record the predictions."""
    out = {}
    kinds = {
        "regressor": (BayesianFMRegressor(**COMMON), "regression"),
        "classifier": (BayesianFMClassifier(**COMMON), "binary"),
        "ordinal": (BayesianFMOrdinal(**COMMON), "ordinal"),
    }
    for kind, (model, task) in kinds.items():
        sim = simulate_fm(n_rows=60, group_sizes=(5, 4), rank=2, task=task, seed=0)
        X = sim.X.toarray()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, sim.y)
        model.save(HERE / f"v1_{kind}.bfm")
        out[f"{kind}_X"] = X
        out[f"{kind}_predict"] = model.predict(X)
        out[f"{kind}_interval"] = model.predict_interval(X)
        out[f"{kind}_log_likelihood"] = model.idata_["log_likelihood"]["y"].values
        if kind != "regressor":
            out[f"{kind}_proba"] = model.predict_proba(X)
    np.savez_compressed(HERE / "v1_expected.npz", **out)
    print({p.name: p.stat().st_size for p in sorted(HERE.glob("v1_*"))}, file=sys.stderr)


if __name__ == "__main__":
    main()
