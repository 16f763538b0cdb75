"""scikit-learn conformance (parametrize_with_checks) with a small, fast engine setting."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from bayesfm import BayesianFMClassifier, BayesianFMRegressor

# SVI with few steps keeps each of the ~40 checks to a second or two; the checks test the
# API contract (validation, fitted attributes, shapes, determinism), not the posterior.
_FAST = dict(method="svi", rank=2, svi_steps=300, num_samples=30, random_state=0,
             progress_bar=False, learning_rate=0.05)


def _expected_failed_checks(estimator):
    if isinstance(estimator, BayesianFMClassifier):
        return {
            "check_classifiers_classes": "labels must be 0/1 by design: other labels are "
            "rejected with a clear error rather than silently recoded",
            "check_classifiers_regression_target": "continuous targets are rejected as "
            "labels outside {0, 1}, with a different message than sklearn's",
            "check_classifiers_one_label_sample_weights": "rejects one-class data with its own "
            "message ('a classifier needs both 0 and 1')",
        }
    return {}


@parametrize_with_checks(
    [BayesianFMRegressor(**_FAST), BayesianFMClassifier(**_FAST)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
