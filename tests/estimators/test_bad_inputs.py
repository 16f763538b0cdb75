"""Every bad input, for estimators, encoders and file readers: the error type and its message.

One battery (it merges the former tests/test_bad_inputs.py and tests/test_validation.py),
organised by what is bad: the settings, X, y, sample_weight, groups, the inputs at prediction
time and libFM files. Every case asserts the type of the error and a message that names the
argument and the bad value or row.

``CASES`` is also what ``docs/generate_reliability.py`` runs to write the table of
docs/reliability.md, so the documented messages are the ones the code gives.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from bayesfm import BayesianFMClassifier, BayesianFMOrdinal, BayesianFMRegressor
from bayesfm.data import FMEncoder, from_sparse, read_libffm, read_libfm
from bayesfm.estimators._validation import check_params

FAST = dict(method="svi", rank=2, svi_steps=50, num_samples=5, random_state=0,
            progress_bar=False)
#: Gibbs settings for refusals that happen before any sweep runs.
GIBBS = dict(rank=2, num_warmup=5, num_samples=5, num_chains=1, progress_bar=False)
X = np.eye(4)[np.arange(12) % 4]
Y = np.arange(12.0)
LABELS = np.arange(12) % 2
FRAME = pd.DataFrame({"user": list("abcabcabcabc"), "age": np.arange(12.0)})


@functools.cache
def fitted() -> BayesianFMRegressor:
    return BayesianFMRegressor(**FAST).fit(X, Y)


@functools.cache
def fitted_frame() -> BayesianFMRegressor:
    return BayesianFMRegressor(**FAST).fit(FRAME, Y)


def reg(**kw: Any) -> BayesianFMRegressor:
    return BayesianFMRegressor(**{**FAST, **kw})


def libfm(text: str | bytes, **kw: Any) -> Any:
    buf = io.BytesIO(text) if isinstance(text, bytes) else io.StringIO(text)
    buf.name = "train.libfm"
    return read_libfm(buf, **kw)


def nan_at(a: np.ndarray, idx: tuple[int, ...], value: float = np.nan) -> np.ndarray:
    a = a.astype(float).copy()
    a[idx] = value
    return a


class Case(NamedTuple):
    where: str  # estimator, encoder or reader
    what: str  # the bad input, in words
    call: Callable[[], Any]
    error: type[Exception]
    match: str  # regex the message must match: names the argument and the value or row


#: Settings: estimator hyperparameters and their combinations, encoder and reader options.
SETTINGS = [
    Case("estimator", "rank 0", lambda: reg(rank=0).fit(X, Y), ValueError,
         r"rank must be >= 1, got 0"),
    Case("estimator", "rank -3", lambda: reg(rank=-3).fit(X, Y), ValueError,
         r"rank must be >= 1, got -3"),
    Case("estimator", "rank 2.5", lambda: reg(rank=2.5).fit(X, Y), TypeError,
         r"rank must be an integer, got 2.5 \(float\)"),
    Case("estimator", "rank None", lambda: reg(rank=None).fit(X, Y), TypeError,
         r"rank must be an integer, got None"),
    Case("estimator", "num_samples 0", lambda: reg(num_samples=0).fit(X, Y), ValueError,
         r"num_samples must be >= 1, got 0"),
    Case("estimator", "num_samples '5'", lambda: reg(num_samples="5").fit(X, Y), TypeError,
         r"num_samples must be an integer, got '5' \(str\)"),
    Case("estimator", "num_warmup -1", lambda: reg(num_warmup=-1).fit(X, Y), ValueError,
         r"num_warmup must be >= 0, got -1"),
    Case("estimator", "num_chains 0", lambda: reg(num_chains=0).fit(X, Y), ValueError,
         r"num_chains must be >= 1, got 0"),
    Case("estimator", "num_chains True", lambda: reg(num_chains=True).fit(X, Y), TypeError,
         r"num_chains must be an integer, got True \(bool\)"),
    Case("estimator", "thinning 0", lambda: reg(thinning=0).fit(X, Y), ValueError,
         r"thinning must be >= 1, got 0"),
    Case("estimator", "svi_steps 1.5", lambda: reg(svi_steps=1.5).fit(X, Y), TypeError,
         r"svi_steps must be an integer, got 1.5"),
    Case("estimator", "batch_size 0", lambda: reg(batch_size=0).fit(X, Y), ValueError,
         r"batch_size must be >= 1, got 0"),
    Case("estimator", "batch_size 'full'", lambda: reg(batch_size="full").fit(X, Y),
         ValueError, r"batch_size must be a positive int, 'auto' or None, got 'full'"),
    Case("estimator", "unknown method", lambda: reg(method="gibs").fit(X, Y), ValueError,
         r"unknown method 'gibs'; valid methods: gibbs, nuts, svi"),
    Case("estimator", "unknown link",
         lambda: BayesianFMClassifier(**FAST, link="cloglog").fit(X, LABELS), ValueError,
         r"unknown link 'cloglog'; valid links: probit, logit"),
    Case("estimator", "unknown guide", lambda: reg(guide="flow").fit(X, Y), ValueError,
         r"unknown guide 'flow'; valid guides: normal, lowrank, map"),
    Case("estimator", "unknown parameterization", lambda: reg(parameterization="nc").fit(X, Y),
         ValueError, r"unknown parameterization 'nc'; valid: centered, noncentered"),
    Case("estimator", "unknown prior constant", lambda: reg(priors={"alpha": 1}).fit(X, Y),
         ValueError, r"unknown prior constants \['alpha'\]; valid: a0, b0, gamma0, mu0, reg0"),
    Case("estimator", "negative prior constant", lambda: reg(priors={"a0": -1}).fit(X, Y),
         ValueError, r"prior constant a0 must be finite \(and > 0\), got -1"),
    Case("estimator", "text prior constant", lambda: reg(priors={"a0": "x"}).fit(X, Y),
         TypeError, r"prior constant a0 must be a number, got 'x'"),
    Case("estimator", "priors not a dict", lambda: reg(priors=[1, 2]).fit(X, Y), TypeError,
         r"priors must be a dict of prior constants"),
    Case("estimator", "negative learning_rate", lambda: reg(learning_rate=-1.0).fit(X, Y),
         ValueError, r"learning_rate must be finite and > 0, got -1.0"),
    Case("estimator", "unknown log_likelihood option",
         lambda: reg(log_likelihood="yes").fit(X, Y), ValueError,
         r"log_likelihood must be True, False or 'auto', got 'yes'"),
    Case("estimator", "progress_bar 'yes'", lambda: reg(progress_bar="yes").fit(X, Y),
         TypeError, r"progress_bar must be True, False or None, got 'yes'"),
    Case("estimator", "unknown keyword", lambda: BayesianFMRegressor(n_iter=10), TypeError,
         r"unexpected keyword argument 'n_iter'"),
    Case("encoder", "min_frequency 0", lambda: FMEncoder(min_frequency=0).fit(FRAME),
         ValueError, r"min_frequency must be a positive integer or None, got 0"),
    Case("encoder", "a column named twice",
         lambda: FMEncoder(categorical=["age"], numeric=["age"]).fit(FRAME), ValueError,
         r"column 'age' is named in two of categorical, numeric and multi_hot"),
    Case("encoder", "an option naming a missing column",
         lambda: FMEncoder(numeric=["height"]).fit(FRAME), ValueError,
         r"columns \['height'\] were named but are not in the DataFrame"),
    Case("reader", "n_features 0", lambda: libfm("1 0:1\n", n_features=0), ValueError,
         r"n_features must be a positive integer, got 0"),
    Case("reader", "zero_based 'no'", lambda: libfm("1 0:1\n", zero_based="no"), TypeError,
         r"zero_based must be True or False, got 'no'"),
    Case("reader", "unknown on_conflict",
         lambda: read_libffm(io.StringIO("1 0:0:1\n"), on_conflict="last"), ValueError,
         r"on_conflict must be 'error' or 'first', got 'last'"),
]


#: X at fit time: values, shapes, empty inputs, DataFrames.
X_CASES = [
    Case("estimator", "NaN in X", lambda: reg().fit(nan_at(X, (3, 2)), Y), ValueError,
         r"X contains NaN"),
    Case("estimator", "infinity in X", lambda: reg().fit(nan_at(X, (3, 2), np.inf), Y),
         ValueError, r"X contains infinity"),
    Case("estimator", "X one-dimensional", lambda: reg().fit(np.ones(4), np.ones(4)),
         ValueError, r"X must be 2-dimensional \(rows x features\), got shape \(4,\)"),
    Case("estimator", "X three-dimensional", lambda: reg().fit(np.ones((4, 2, 2)), np.ones(4)),
         ValueError, r"X must be 2-dimensional .*got shape \(4, 2, 2\)"),
    Case("estimator", "X with no rows", lambda: reg().fit(np.zeros((0, 4)), np.zeros(0)),
         ValueError, r"X has 0 rows \(shape=\(0, 4\)\); at least one row is required"),
    Case("estimator", "sparse X with no rows",
         lambda: reg().fit(sp.csr_matrix((0, 4)), np.zeros(0)), ValueError, r"X has 0 rows"),
    Case("estimator", "X with no columns", lambda: reg().fit(np.zeros((3, 0)), np.zeros(3)),
         ValueError, r"X has 0 feature\(s\) \(shape=\(3, 0\)\) while a minimum of 1 is required"),
    Case("estimator", "DataFrame with no rows", lambda: reg().fit(FRAME.iloc[:0], Y[:0]),
         ValueError, r"X has 0 rows"),
    Case("estimator", "text in an array X", lambda: reg().fit(np.array([["a", "b"]] * 2),
                                                              np.ones(2)),
         TypeError, r"X must be numeric, got dtype <U1 \(e.g. 'a'\)"),
    Case("estimator", "a value beyond float32", lambda: reg().fit(nan_at(X, (2, 1), 1e39), Y),
         ValueError, r"X has the value 1e\+39 at row 2, column 1, beyond the range of float32"),
    Case("encoder", "NaN in a numeric column",
         lambda: FMEncoder().fit(FRAME.assign(age=nan_at(FRAME["age"].to_numpy(), (4,)))),
         ValueError, r"numeric column 'age' has NaN \(missing\) at row 4"),
    Case("encoder", "DataFrame with no columns", lambda: FMEncoder().fit(pd.DataFrame()),
         ValueError, r"the DataFrame has no columns to encode"),
    Case("encoder", "DataFrame with no rows", lambda: FMEncoder().fit(FRAME.iloc[:0]),
         ValueError, r"column 'user' has no category left to encode"),
]


#: y: values, shapes, labels.
Y_CASES = [
    Case("estimator", "NaN in y", lambda: reg().fit(X, nan_at(Y, (5,))), ValueError,
         r"y contains NaN \(first at index \(5,\)\)"),
    Case("estimator", "infinity in y", lambda: reg().fit(X, nan_at(Y, (5,), np.inf)),
         ValueError, r"y contains infinity \(first at index \(5,\)\)"),
    Case("estimator", "y shorter than X", lambda: reg().fit(X, Y[:-1]), ValueError,
         r"y has 11 values, but X has 12 rows"),
    Case("estimator", "y of two columns", lambda: reg().fit(X, np.ones((12, 2))), ValueError,
         r"y must be 1-dimensional, got shape \(12, 2\)"),
    Case("estimator", "empty y", lambda: reg().fit(X, []), ValueError,
         r"y has 0 values, but X has 12 rows"),
    Case("estimator", "a single class",
         lambda: BayesianFMClassifier(**FAST).fit(X, np.ones(12)), ValueError,
         r"y contains one class only \(np.float64\(1.0\)\); a classifier needs two labels"),
    Case("estimator", "three classes",
         lambda: BayesianFMClassifier(**FAST).fit(X, np.arange(12) % 3), ValueError,
         r"Only binary classification is supported. y has 3 classes \(first ones: \[0, 1, "
         r"2\]\); give two labels"),
    Case("estimator", "labels of mixed types",
         lambda: BayesianFMClassifier(**FAST).fit(X, np.array(["a", 1] * 6, dtype=object)),
         ValueError, r"y mixes label types \(\['int', 'str'\]\); give two labels of one type"),
]


#: sample_weight.
SAMPLE_WEIGHT = [
    Case("estimator", "sample_weight of the wrong length",
         lambda: reg().fit(X, Y, sample_weight=np.ones(5)), ValueError,
         r"sample_weight has shape \(5,\), but X has 12 rows"),
    Case("estimator", "negative sample_weight",
         lambda: reg().fit(X, Y, sample_weight=nan_at(np.ones(12), (4,), -1.0)), ValueError,
         r"sample_weight must be non-negative, got -1.0 at row 4"),
    Case("estimator", "NaN sample_weight",
         lambda: reg().fit(X, Y, sample_weight=nan_at(np.ones(12), (7,))), ValueError,
         r"sample_weight contains NaN \(first at index \(7,\)\)"),
    Case("estimator", "all-zero sample_weight",
         lambda: reg().fit(X, Y, sample_weight=np.zeros(12)), ValueError,
         r"sample_weight is zero for every row"),
    Case("estimator", "text sample_weight", lambda: reg().fit(X, Y, sample_weight=["a"] * 12),
         TypeError, r"sample_weight must be numeric, got dtype <U1 \(first value 'a'\)"),
    Case("estimator", "sample_weight with probit and method='gibbs'",
         lambda: BayesianFMClassifier(**GIBBS).fit(X, LABELS,
                                                   sample_weight=np.linspace(0.5, 2.0, 12)),
         ValueError, r"sample_weight with likelihood='probit' is not supported by "
         r"method='gibbs'.*use method='nuts' or 'svi'"),
    Case("estimator", "fractional sample_weight with logit and method='gibbs'",
         lambda: BayesianFMClassifier(**GIBBS, link="logit").fit(
             X, LABELS, sample_weight=np.linspace(0.5, 2.0, 12)),
         ValueError, r"sample_weight with likelihood='logit' and method='gibbs' must hold "
         r"non-negative integers"),
]


#: groups.
GROUPS = [
    Case("estimator", "groups of the wrong length", lambda: reg().fit(X, Y, groups=[0, 1]),
         ValueError, r"groups must give one group per feature: expected length 4, got shape"),
    Case("estimator", "negative group code", lambda: reg().fit(X, Y, groups=[0, -1, 0, 1]),
         ValueError, r"groups must be non-negative integers, got -1"),
    Case("estimator", "NaN group", lambda: reg().fit(X, Y, groups=[0.0, np.nan, 0.0, 1.0]),
         ValueError, r"groups contains nan at feature 1"),
    Case("estimator", "from_sparse with both groups and group_sizes",
         lambda: from_sparse(X, groups=[0, 0, 1, 1], group_sizes=[2, 2]), ValueError,
         r"give either groups or group_sizes, not both"),
    Case("estimator", "feature_names of the wrong length",
         lambda: reg().fit(X, Y, feature_names=["a", "b"]), ValueError,
         r"feature_names has 2 names for 4 features"),
    Case("estimator", "group_names for fewer groups",
         lambda: reg().fit(X, Y, groups=[0, 0, 1, 1], group_names=["user"]), ValueError,
         r"group_names has 1 names, but there are 2 groups"),
    Case("estimator", "feature_names with a DataFrame",
         lambda: reg().fit(FRAME, Y, feature_names=["a", "b"]), ValueError,
         r"feature_names and group_names cannot be given with a DataFrame"),
    Case("estimator", "categorical= with an array",
         lambda: reg(categorical=["user"]).fit(X, Y), TypeError,
         r"categorical= / numeric= name DataFrame columns, but X is a ndarray"),
    Case("estimator", "categorical= names a missing column",
         lambda: reg(categorical=["item"]).fit(FRAME, Y), ValueError,
         r"columns \['item'\] were named but are not in the DataFrame"),
    Case("estimator", "a column both categorical and numeric",
         lambda: reg(categorical=["age"], numeric=["age"]).fit(FRAME, Y), ValueError,
         r"column 'age' is named in two of categorical, numeric and multi_hot"),
    Case("estimator", "categorical= as a string",
         lambda: reg(categorical="user").fit(FRAME, Y), TypeError,
         r"categorical must be a list of column names, not the string 'user'"),
]


#: Prediction-time inputs: before fit, a model that does not match the data, options.
PREDICTION = [
    Case("estimator", "predict before fit", lambda: BayesianFMRegressor().predict(X),
         NotFittedError, r"This BayesianFMRegressor instance is not fitted yet"),
    Case("estimator", "NaN in X at predict", lambda: fitted().predict(nan_at(X, (0, 0))),
         ValueError, r"Input X contains NaN"),
    Case("estimator", "no rows at predict", lambda: fitted().predict(np.zeros((0, 4))),
         ValueError, r"X has 0 rows"),
    Case("estimator", "more features at predict than at fit",
         lambda: fitted().predict(np.ones((2, 5))), ValueError,
         r"X has 5 features, but BayesianFMRegressor is expecting 4 features"),
    Case("estimator", "more features at predict, sparse X",
         lambda: fitted().predict(sp.csr_matrix(np.ones((2, 5)))), ValueError,
         r"X has 5 features, but BayesianFMRegressor is expecting 4 features"),
    Case("estimator", "array for a model fitted on a DataFrame",
         lambda: fitted_frame().predict(X), TypeError,
         r"this model was fitted on a DataFrame; pass a DataFrame with the same columns"),
    Case("estimator", "DataFrame for a model fitted on an array",
         lambda: fitted().predict(FRAME), TypeError,
         r"this model was fitted on an array; pass an array, not a DataFrame"),
    Case("estimator", "DataFrame missing a fitted column",
         lambda: fitted_frame().predict(FRAME[["user"]]), ValueError,
         r"(?s)Feature names seen at fit time, yet now missing:\n- age"),
    Case("encoder", "transform without a fitted column",
         lambda: FMEncoder().fit(FRAME).transform(FRAME[["user"]]), ValueError,
         r"columns missing from the DataFrame: \['age'\]"),
    Case("encoder", "text in a fitted numeric column",
         lambda: FMEncoder().fit(FRAME).transform(FRAME.assign(age=["x"] * 12)), ValueError,
         r"numeric column 'age' holds non-numeric values: Unable to parse string 'x'"),
    Case("estimator", "unknown interval kind", lambda: fitted().predict_interval(X, kind="x"),
         ValueError, r"unknown kind 'x'; valid: mean, predictive"),
    Case("estimator", "interval prob 1.5", lambda: fitted().predict_interval(X, prob=1.5),
         ValueError, r"prob must be in \(0, 1\), got 1.5"),
    Case("estimator", "interval prob '0.9'", lambda: fitted().predict_interval(X, prob="0.9"),
         TypeError, r"prob must be a number in \(0, 1\), got '0.9'"),
]


#: Files: libFM and libFFM text.
FILES = [
    Case("reader", "NaN value in a libFM file", lambda: libfm("1 0:1\n1 2:nan\n"), ValueError,
         r"train.libfm, line 2: value in token '2:nan' is not finite"),
    Case("reader", "empty libFM file", lambda: libfm("# only a comment\n"), ValueError,
         r"train.libfm: no data lines"),
    Case("reader", "text value in a libFM file", lambda: libfm("1 0:1\n1 3:x\n"), ValueError,
         r"train.libfm, line 2: value in token '3:x' is not a number"),
    Case("reader", "text label in a libFM file", lambda: libfm("1 0:1\nyes 3:1\n"), ValueError,
         r"train.libfm, line 2: label 'yes' is not a number"),
    Case("reader", "bytes that are not UTF-8", lambda: libfm(b"1 0:1\n1 0:\xff\n"), ValueError,
         r"train.libfm, line 2: byte 0xff is not UTF-8 text"),
    Case("reader", "malformed token", lambda: libfm("1 0:1\n1 3:1:2\n"), ValueError,
         r"train.libfm, line 2: malformed token '3:1:2', expected idx:val"),
    Case("reader", "duplicate feature index in a row", lambda: libfm("1 0:1\n1 3:1 4:1 3:2\n"),
         ValueError, r"train.libfm, line 2: duplicate feature index in token '3:2'"),
    Case("reader", "feature index out of range",
         lambda: libfm("1 0:1\n1 9:1\n", n_features=5), ValueError,
         r"train.libfm, line 2: feature index in token '9:1' is out of range for n_features=5"),
    Case("reader", "negative feature index", lambda: libfm("1 0:1\n1 -1:1\n"), ValueError,
         r"train.libfm, line 2: feature index -1 in token '-1:1' is below 0"),
    Case("reader", "index 0 in a one-based file", lambda: libfm("1 0:1\n", zero_based=False),
         ValueError, r"train.libfm, line 1: feature index 0 in token '0:1' is below 1"),
    Case("reader", "libFFM feature under two fields",
         lambda: read_libffm(io.StringIO("1 0:0:1\n0 1:0:1\n")), ValueError,
         r"line 2: feature 0 occurs under field 1, but earlier under field 0"),
    Case("reader", "missing file", lambda: read_libfm("/no/such/train.libfm"),
         FileNotFoundError, r"libFM file not found: '/no/such/train.libfm'"),
]


#: Every case, section after section (the order of the table in docs/reliability.md).
SECTIONS = {"settings": SETTINGS, "X": X_CASES, "y": Y_CASES, "sample_weight": SAMPLE_WEIGHT,
            "groups": GROUPS, "prediction": PREDICTION, "files": FILES}
CASES = [case for cases in SECTIONS.values() for case in cases]
IDS = [f"{section}: {c.where}: {c.what}" for section, cases in SECTIONS.items() for c in cases]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_input_gets_a_clear_error(case: Case) -> None:
    with pytest.raises(case.error, match=case.match):
        case.call()


def test_every_bad_input_is_listed_once():
    assert len({(c.where, c.what) for c in CASES}) == len(CASES)


# -- settings of every estimator (the ordinal estimator has model, degree, store, max_kept too)

ESTIMATORS = [BayesianFMRegressor, BayesianFMClassifier, BayesianFMOrdinal]
SETTING_CASES = [
    ({"model": "ffx"}, r"unknown model 'ffx'; valid models: fm, cfm, ffm, ifm"),
    ({"degree": 4}, r"degree must be one of \(2, 3\), got 4"),
    ({"model": "ffm", "degree": 3},
     r"degree=3 is implemented for model='fm' only, got model='ffm'"),
    ({"store": "disk"}, r"unknown store 'disk'; valid stores: draws, moments"),
    ({"max_kept": 0}, r"max_kept must be >= 1, got 0"),
    ({"store": "moments", "method": "nuts"}, r"store='moments' needs method='gibbs' \(got "
     r"method='nuts'\)"),
    ({"store": "moments", "log_likelihood": True}, r"log_likelihood=True needs every draw of w "
     r"and v, which store='moments' does not keep"),
    ({"moves": "fast"}, r"unknown moves 'fast'; valid moves: none, groups, scale, means, all"),
    ({"moves": "all", "method": "svi"}, r"moves='all' needs method='gibbs' \(got "
     r"method='svi'\)"),
    # One device here (the four-device fits are in tests/engines/gibbs/test_mesh.py).
    ({"devices": 0}, r"devices must be None \(every device\) or an integer in 1 \.\. "),
    ({"devices": 10_000}, r"devices must be None .* got 10000"),
    ({"devices": "gpu"}, r"devices must be None .* got 'gpu'"),
    ({"devices": True}, r"devices must be None .* got True"),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(("settings", "match"), SETTING_CASES,
                         ids=[str(s) for s, _ in SETTING_CASES])
def test_every_estimator_checks_its_settings(estimator, settings, match):
    with pytest.raises(ValueError, match=match):
        check_params(estimator(**settings))


# -- what is accepted where a neighbouring combination is refused


@pytest.mark.parametrize("moves", ["groups", "scale", "means", "all"])
def test_every_named_move_set_fits_and_changes_the_draws(moves):
    # The moves reach the sweep: same seed, different draws than the plain sweep's; and the
    # fit stays finite.
    gibbs = dict(method="gibbs", rank=2, num_warmup=10, num_samples=10, num_chains=1,
                 random_state=0, progress_bar=False)
    plain = BayesianFMClassifier(**gibbs).fit(X, LABELS)
    moved = BayesianFMClassifier(**gibbs, moves=moves).fit(X, LABELS)
    assert np.all(np.isfinite(moved.predict_proba(X)))
    assert not np.array_equal(plain.idata_["posterior"]["w"].values,
                              moved.idata_["posterior"]["w"].values)


def test_probit_svi_takes_the_weights_probit_gibbs_refuses():
    w = np.linspace(0.5, 2.0, 12)
    clf = BayesianFMClassifier(**FAST).fit(X, LABELS, sample_weight=w)
    assert clf.predict_proba(X).shape == (12, 2)
