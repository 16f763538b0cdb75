"""``bayesfm fit --save`` then ``bayesfm predict``; one encoding rule for CLI and API."""

import warnings

import numpy as np
import pandas as pd
import pytest

from bayesfm import BayesianFMRegressor
from bayesfm.cli import main
from bayesfm.data import IntegerColumnWarning, simulate_fm, write_libfm

FAST = ["--rank", "2", "--iter", "20", "--warmup", "20", "--chains", "1", "--seed", "0",
        "--no-progress", "--no-plots"]


def _ids_csv(tmp_path, task):
    """Integer user and item ids with more than 20 levels each, and a label per task."""
    rng = np.random.default_rng(1)
    n = 300
    df = pd.DataFrame({"user": rng.integers(0, 40, n), "item": rng.integers(100, 130, n)})
    score = 0.05 * (df["user"] % 7) - 0.03 * (df["item"] % 5) + rng.normal(0, 0.3, n)
    if task == "regression":
        df["y"] = score.round(3)
    elif task == "binary":
        df["y"] = (score > score.median()).astype(int)
    else:
        df["y"] = np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75])) + 1
    df.iloc[:240].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[240:].to_csv(tmp_path / "test.csv", index=False)
    return tmp_path / "train.csv", tmp_path / "test.csv"


def test_int_ids_warn_in_the_api_and_cli_equals_declared_api(tmp_path, capsys):
    train, test = _ids_csv(tmp_path, "regression")
    tr, te = pd.read_csv(train), pd.read_csv(test)
    assert tr["user"].dtype == np.int64
    kw = dict(rank=2, num_warmup=20, num_samples=20, num_chains=1, random_state=0,
              progress_bar=False)
    match = r"'user', 'item'.*categorical=\['user', 'item'\]"
    with pytest.warns(IntegerColumnWarning, match=match):
        BayesianFMRegressor(**kw).fit(tr[["user", "item"]], tr["y"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegerColumnWarning)
        warnings.filterwarnings("ignore", message="The chains")
        reg = BayesianFMRegressor(categorical=["user", "item"], **kw)
        reg.fit(tr[["user", "item"]], tr["y"])
    n_levels = tr["user"].nunique() + tr["item"].nunique()
    assert reg.idata_["posterior"].sizes["feature"] == n_levels
    assert "user=3" in reg.idata_["posterior"]["w"].feature.values
    out = tmp_path / "out"
    assert main(["fit", "--train", str(train), "--test", str(test), "--task", "regression",
                 "--out", str(out), *FAST]) == 0
    pred = pd.read_csv(out / "predictions.csv")
    # Test rows may hold ids unseen in training: both paths draw them from the group prior.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = reg.predict(te[["user", "item"]])
    np.testing.assert_allclose(pred["mean"], mean, rtol=0, atol=1e-12)


@pytest.mark.parametrize("task", ["regression", "binary", "ordinal"])
def test_saved_model_predicts_what_fit_predicted(task, tmp_path, capsys):
    train, test = _ids_csv(tmp_path, task)
    fit_out, pred_out, model = tmp_path / "fit", tmp_path / "pred", tmp_path / "model.bfm"
    assert main(["fit", "--train", str(train), "--test", str(test), "--task", task,
                 "--out", str(fit_out), "--save", str(model), *FAST]) == 0
    assert main(["predict", "--model", str(model), "--test", str(test), "--out",
                 str(pred_out)]) == 0
    a = pd.read_csv(fit_out / "predictions.csv")
    b = pd.read_csv(pred_out / "predictions.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    if task == "ordinal":
        assert "class" in a.columns and set(a["class"]) <= {1, 2, 3, 4}


def test_saved_libfm_model_predicts_and_groups_file_names_features(tmp_path, capsys):
    sim = simulate_fm(n_rows=300, group_sizes=(6, 5), rank=2, task="binary", seed=0)
    write_libfm(tmp_path / "tr.libfm", sim.X[:240], 2 * sim.y[:240] - 1)
    write_libfm(tmp_path / "te.libfm", sim.X[240:], 2 * sim.y[240:] - 1)
    names = [f"user={i}" for i in range(6)] + [f"item={i}" for i in range(5)]
    (tmp_path / "g.txt").write_text("".join(
        f"{n.split('=')[0]}\t{n}\n" for n in names))
    model = tmp_path / "m.bfm"
    assert main(["fit", "--train", str(tmp_path / "tr.libfm"), "--test",
                 str(tmp_path / "te.libfm"), "--groups", str(tmp_path / "g.txt"), "--task",
                 "binary", "--out", str(tmp_path / "fit"), "--save", str(model), *FAST]) == 0
    assert main(["predict", "--model", str(model), "--test", str(tmp_path / "te.libfm"),
                 "--out", str(tmp_path / "pred")]) == 0
    a = pd.read_csv(tmp_path / "fit" / "predictions.csv")
    b = pd.read_csv(tmp_path / "pred" / "predictions.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    from bayesfm import load

    post = load(model).idata_["posterior"]
    assert list(post["w"].feature.values) == names
    assert list(post["mu_w"].group.values) == ["user", "item"]


def test_predict_errors_name_the_problem(tmp_path, capsys):
    rc = main(["predict", "--model", str(tmp_path / "none.bfm"), "--test", "x.csv"])
    assert rc == 2 and "--model file not found" in capsys.readouterr().err
