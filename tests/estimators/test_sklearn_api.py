"""scikit-learn conformance (parametrize_with_checks) with a small, fast engine setting."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from bayesfm import BayesianFMClassifier, BayesianFMOrdinal, BayesianFMRegressor

# Short runs keep each of the ~60 checks per estimator to a second or two: the checks test
# the API contract (validation, fitted attributes, shapes, determinism), not the posterior.
# The default engine (Gibbs) is checked; tests/estimators/test_bad_inputs.py covers the
# other engines.
#: One xdist load group per estimator (tests/conftest.py): its checks' programs then compile
#: on one worker only.
LOAD_GROUP_BY_PARAM = "estimator"

_GIBBS = dict(rank=2, num_warmup=20, num_samples=20, num_chains=1, random_state=0,
              progress_bar=False)


_LABELS_0_1 = (
    "labels must be exactly 0 or 1 (anything else is a clear error, never a silent recoding); "
    "this check fits with labels such as {1, 2} or several classes"
)
_STOCHASTIC_WEIGHTS = (
    "weights are frequency weights, so weighted and duplicated rows define the same "
    "posterior, but the engine's random draws differ when the number of rows differs"
)


def _expected_failed_checks(estimator):
    failures = {
        "check_sample_weight_equivalence_on_dense_data": _STOCHASTIC_WEIGHTS,
        "check_sample_weight_equivalence_on_sparse_data": _STOCHASTIC_WEIGHTS,
    }
    if isinstance(estimator, BayesianFMClassifier):
        for check in (
            "check_classifiers_classes",
            "check_classifiers_regression_target",
            "check_classifiers_one_label_sample_weights",
            "check_estimators_dtypes",
            "check_sample_weights_pandas_series",
            "check_sample_weights_not_an_array",
            "check_sample_weights_shape",
            "check_sample_weights_not_overwritten",
            "check_classifier_data_not_an_array",
            "check_fit2d_1feature",
        ):
            failures[check] = _LABELS_0_1
        failures["check_sample_weights_list"] = (
            "the probit Gibbs sampler refuses sample_weight with a clear error (no exact "
            "augmentation for weighted rows); NUTS and SVI take weights"
        )
    if isinstance(estimator, BayesianFMOrdinal):
        for check in (
            "check_sample_weights_pandas_series",
            "check_sample_weights_not_an_array",
            "check_sample_weights_list",
            "check_sample_weights_shape",
            "check_sample_weights_not_overwritten",
            "check_classifiers_one_label_sample_weights",
        ):
            failures[check] = (
                "the ordinal Gibbs sampler refuses sample_weight with a clear error (no exact "
                "latent augmentation for weighted rows); NUTS and SVI take weights"
            )
        failures["check_classifiers_classes"] = (
            "string labels such as 'one', 'two' have no order: the ordinal model asks for "
            "integer labels or an ordered pd.Categorical (a clear ValueError)"
        )
        for check in ("check_classifiers_train",
                      "check_classifiers_train(readonly_memmap=True)",
                      "check_classifiers_train(readonly_memmap=True,X_dtype=float32)"):
            failures[check] = (
                "the check's blob classes are nominal, not ordered along any score; an "
                "ordered probit is not meant to reach its 0.83 training accuracy on them"
            )
    return failures


#: Declared failures that would run whole fits before failing on their last line: the ordinal
#: estimator's blob-accuracy checks (a minute each here). They are reported as skipped with
#: their reason instead of running to the expected failure.
_SKIP_NOT_RUN = ("check_classifiers_train",)


@parametrize_with_checks(
    [BayesianFMRegressor(**_GIBBS), BayesianFMClassifier(**_GIBBS), BayesianFMOrdinal(**_GIBBS)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    name = getattr(check, "func", check).__name__
    reason = _expected_failed_checks(estimator).get(_check_id(check))
    if reason is not None and name in _SKIP_NOT_RUN:
        pytest.skip(f"declared failure, not run: {reason}")
    check(estimator)


def _check_id(check) -> str:
    """The check's name as sklearn's expected_failed_checks keys it (with its keywords)."""
    func = getattr(check, "func", check)
    keywords = getattr(check, "keywords", {})
    if not keywords:
        return func.__name__
    args = ",".join(f"{k}={v}" for k, v in keywords.items())
    return f"{func.__name__}({args})"
