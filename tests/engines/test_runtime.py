"""Many fits in one process must not exhaust its memory mappings (bayesfm.engines.runtime)."""

import numpy as np
import pytest

import bayesfm.engines.runtime as runtime
from bayesfm import BayesianFMRegressor
from bayesfm.engines import release_compiled_programs

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fit(n_rows):
    rng = np.random.default_rng(n_rows)
    X = rng.normal(size=(n_rows, 4))
    return BayesianFMRegressor(rank=2, num_warmup=5, num_samples=5, random_state=0,
                               progress_bar=False).fit(X, rng.normal(size=n_rows))


@pytest.mark.skipif(runtime._memory_maps() is None, reason="needs Linux's /proc")
def test_clearing_unmaps_the_programs_of_earlier_fits():
    _fit(29)  # the first fit maps what stays for good (libraries, thread pools)
    release_compiled_programs(fraction=0.0)  # start from no cached program
    before = runtime._memory_maps()[0]
    for n in range(30, 36):  # six shapes: six sets of compiled programs
        _fit(n)
    grown = runtime._memory_maps()[0]
    # A fit compiles 7 programs holding about 30-40 mappings together (measured: 30 a fit on
    # this 4-feature regressor, 40 in CI), so six fits add about 180-240, well above the few
    # dozen that allocations come and go by.
    assert grown - before > 120, (before, grown)
    assert release_compiled_programs(fraction=0.0) is True
    after = runtime._memory_maps()[0]
    assert after < before + 0.2 * (grown - before), (before, grown, after)
    assert release_compiled_programs(fraction=1.0) is False  # far from the limit


def test_fit_clears_the_caches_near_the_limit(monkeypatch):
    cleared = []
    monkeypatch.setattr(runtime, "_memory_maps", lambda: (40_000, 65_530))
    monkeypatch.setattr(runtime.jax, "clear_caches", lambda: cleared.append(True))
    fm = _fit(30)
    assert cleared == [True]
    assert fm.predict(np.zeros((2, 4))).shape == (2,)  # the model still predicts afterwards
    monkeypatch.setattr(runtime, "_memory_maps", lambda: (1_000, 65_530))
    _fit(30)
    assert cleared == [True]  # far from the limit: the caches are kept


def test_without_proc_nothing_is_cleared(monkeypatch):
    monkeypatch.setattr(runtime, "_memory_maps", lambda: None)
    assert release_compiled_programs(fraction=0.0) is False
