"""The bayesfm command line."""

import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest

from bayesfm import BayesianFMClassifier, BayesianFMRegressor
from bayesfm.cli import build_parser, main
from bayesfm.data import read_libfm, simulate_fm, write_libfm


def test_demo_writes_every_output(tmp_path):
    rc = main(["demo", "--out", str(tmp_path), "--rows", "400", "--warmup", "50",
               "--samples", "50", "--chains", "1"])
    assert rc == 0
    for name in ("predictions.csv", "summary.csv", "posterior.nc", "trace.png",
                 "calibration.png", "intervals.png", "report.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["test_rows"] == 100
    assert 0.0 <= report["coverage_of_true_prob_90"] <= 1.0
    header = (tmp_path / "predictions.csv").read_text().splitlines()[0]
    assert header == "row,y,true_prob,mean,sd,lower90,upper90"


def test_unknown_option_exits_nonzero(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--no-such-option"])
    assert exc.value.code != 0
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_bad_value_is_a_one_line_error(tmp_path, capsys):
    # The parser refuses a non-positive count before any fitting starts.
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(tmp_path), "--rows", "400", "--samples", "0"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bayesfm demo: error:") and "--samples" in err and "\n" not in err


# -- bayesfm fit ---------------------------------------------------------------------------

FAST = ["--rank", "2", "--iter", "30", "--warmup", "30", "--chains", "2", "--seed", "0",
        "--no-progress"]


def run(argv, capsys):
    """Run the command; return (exit status, stderr). Parser errors raise SystemExit."""
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err


def assert_one_line_error(rc, err, *needles):
    assert rc == 2
    line = err.strip()
    assert "\n" not in line and "Traceback" not in line and "usage:" not in line, err
    assert line.startswith("bayesfm") and "error:" in line, line
    for needle in needles:
        assert needle in line, line


@pytest.fixture(scope="module")
def libfm_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("libfm")
    sim = simulate_fm(n_rows=400, group_sizes=(10, 8, 4), rank=2, task="binary", seed=0)
    write_libfm(d / "train.libfm", sim.X[:300], 2 * sim.y[:300] - 1)   # -1/+1 like frappe
    write_libfm(d / "test.libfm", sim.X[300:], 2 * sim.y[300:] - 1)
    return d


@pytest.mark.parametrize("link", ["probit", "logit"])  # both exact with the default Gibbs
def test_fit_libfm_binary_equals_the_python_api(libfm_files, tmp_path, capsys, link):
    out = tmp_path / "out"
    rc = main(["fit", "--train", str(libfm_files / "train.libfm"), "--test",
               str(libfm_files / "test.libfm"), "--task", "binary", "--link", link, "--out",
               str(out), *FAST])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    for name in ("predictions.csv", "summary.csv", "posterior.nc", "trace.png", "rank.png",
                 "forest.png", "ppc.png", "calibration.png", "report.json"):
        assert (out / name).stat().st_size > 0, name
        assert name in report["files"]
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred.columns) == ["row", "y", "mean", "sd", "lower", "upper"]

    X_tr, y_tr = read_libfm(libfm_files / "train.libfm")
    X_te, y_te = read_libfm(libfm_files / "test.libfm", n_features=X_tr.shape[1])
    clf = BayesianFMClassifier(rank=2, link=link, num_warmup=30, num_samples=30, num_chains=2,
                               random_state=0, progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X_tr, (y_tr > 0).astype(int))
    s = clf.predict_summary(X_te, prob=0.9)
    # Exact: the same estimator, seed and data, and the CSV keeps 17 significant digits.
    np.testing.assert_array_equal(pred["y"], (y_te > 0).astype(int))
    np.testing.assert_array_equal(pred["mean"], clf.predict_proba(X_te)[:, 1])
    np.testing.assert_array_equal(pred[["lower", "upper"]], clf.predict_interval(X_te, 0.9))
    np.testing.assert_array_equal(pred["sd"], s.sd)
    from sklearn.metrics import roc_auc_score

    assert report["metrics"]["auc"] == roc_auc_score(y_te > 0, s.mean)
    assert report["test_rows"] == 100 and report["n_features"] == X_tr.shape[1]


def test_fit_csv_regression_equals_the_python_api(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 260
    df = pd.DataFrame({"user": rng.integers(0, 15, n), "item": rng.choice(list("abcdefgh"), n),
                       "age": rng.integers(18, 70, n)})
    effect = dict(zip("abcdefgh", rng.normal(0, 1, 8), strict=True))
    df["rating"] = (df["item"].map(effect) + 0.02 * (df["age"] - 40) + 0.01 * df["user"]
                    + rng.normal(0, 0.3, n)).round(3)
    df.iloc[:200].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[200:].to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "out"
    rc = main(["fit", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
               "--task", "regression", "--target", "rating", "--numeric", "age", "--out",
               str(out), *FAST])
    assert rc == 0
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred.columns) == ["row", "y", "mean", "sd", "lower", "upper", "pred_sd",
                                  "pred_lower", "pred_upper"]
    for name in ("intervals.png", "uncertainty.png", "forest.png", "ppc.png"):
        assert (out / name).stat().st_size > 0, name

    # The API on the same frames as pandas reads them: the CLI declares every column not in
    # --numeric categorical, so the API declares the same.
    tr, te = pd.read_csv(tmp_path / "train.csv"), pd.read_csv(tmp_path / "test.csv")
    reg = BayesianFMRegressor(rank=2, num_warmup=30, num_samples=30, num_chains=2,
                              random_state=0, progress_bar=False, categorical=["user", "item"],
                              numeric=["age"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(tr[["user", "item", "age"]], tr["rating"])
    X_te = te[["user", "item", "age"]]
    mean, sd = reg.predict(X_te, return_std=True)
    np.testing.assert_array_equal(pred["mean"], mean)
    np.testing.assert_array_equal(pred["sd"], sd)
    np.testing.assert_array_equal(pred[["lower", "upper"]], reg.predict_interval(X_te, 0.9))
    np.testing.assert_array_equal(pred[["pred_lower", "pred_upper"]],
                                  reg.predict_interval(X_te, 0.9, kind="predictive"))
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"]["rmse"] == pytest.approx(np.sqrt(np.mean((te["rating"] - mean) ** 2)),
                                                      rel=1e-12)
    names = list(reg.idata_["posterior"]["feature"].values)
    assert "item=a" in names and "age" in names     # feature names reach the DataTree


def test_missing_file_is_a_one_line_error(libfm_files, tmp_path, capsys):
    rc, err = run(["fit", "--train", str(tmp_path / "nope.libfm"), "--test",
                   str(libfm_files / "test.libfm"), "--task", "binary"], capsys)
    assert_one_line_error(rc, err, "--train file not found", "nope.libfm")


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_malformed_line_names_file_and_line(libfm_files, tmp_path, capsys):
    bad = _write(tmp_path / "bad.libfm", "1 0:1 3:1\n# a comment\n-1 2:1 5:x\n")
    rc, err = run(["fit", "--train", bad, "--test", str(libfm_files / "test.libfm"),
                   "--task", "binary", "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(rc, err, "bad.libfm, line 3", "'5:x'")


def test_duplicate_feature_index_names_the_line(libfm_files, tmp_path, capsys):
    bad = _write(tmp_path / "dup.libfm", "1 0:1 3:1\n-1 2:1 4:1 2:1\n")
    rc, err = run(["fit", "--train", bad, "--test", str(libfm_files / "test.libfm"),
                   "--task", "binary", "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(rc, err, "dup.libfm, line 2", "duplicate feature index")


def test_non_binary_label_names_the_line(libfm_files, tmp_path, capsys):
    bad = _write(tmp_path / "lab.libfm", "1 0:1\n\n0 1:1\n2 1:1\n")
    rc, err = run(["fit", "--train", bad, "--test", str(libfm_files / "test.libfm"),
                   "--task", "binary", "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(rc, err, "lab.libfm, line 4", "label 2 is not binary")


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--no-such-option"], ["unrecognized arguments: --no-such-option"]),
        (["--rank", "0"], ["argument --rank", "must be a positive integer, got 0"]),
        (["--rank", "two"], ["argument --rank", "expected a positive integer, got 'two'"]),
        (["--task", "ranking"], ["argument --task", "invalid choice: 'ranking'"]),
        (["--method", "mcmc"], ["argument --method", "invalid choice: 'mcmc'"]),
        (["--prob", "1.5"], ["argument --prob", "must be in (0, 1), got 1.5"]),
    ],
)
def test_bad_options_are_one_line_errors(libfm_files, capsys, extra, needles):
    argv = ["fit", "--train", str(libfm_files / "train.libfm"), "--test",
            str(libfm_files / "test.libfm"), "--task", "binary", *extra]
    if "--task" in extra:
        argv = argv[:5] + argv[7:]
    rc, err = run(argv, capsys)
    assert_one_line_error(rc, err, *needles)


def test_missing_required_option_is_a_one_line_error(capsys):
    rc, err = run(["fit", "--train", "a.libfm"], capsys)
    assert_one_line_error(rc, err, "the following arguments are required", "--test", "--task")


def test_csv_errors_name_file_and_line(tmp_path, capsys):
    good = _write(tmp_path / "good.csv", "user,item,y\n1,a,0.5\n2,b,1.5\n")
    cases = [
        ("text.csv", "user,item,y\n1,a,0.5\n2,b,high\n", [], ["text.csv, line 3",
                                                              "target 'y' is 'high'"]),
        ("ragged.csv", "user,item,y\n1,a,0.5\n2,b,1.5,9\n", [], ["ragged.csv", "line 3"]),
        ("notarget.csv", "user,item,score\n1,a,0.5\n", [], ["no target column 'y'",
                                                            "--target"]),
        ("num.csv", "user,item,y\n1,a,0.5\n2,b,1.5\n", ["--numeric", "age"],
         ["--numeric names columns not among the features", "'age'"]),
        ("good2.csv", "user,item,y\n1,a,0.5\n", ["--link", "logit"],
         ["--link applies to --task binary only"]),
    ]
    for name, text, extra, needles in cases:
        path = _write(tmp_path / name, text)
        rc, err = run(["fit", "--train", path, "--test", good, "--task", "regression",
                       "--out", str(tmp_path / "o"), *extra], capsys)
        assert_one_line_error(rc, err, *needles)


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    fit_parser = build_parser()._subparsers._group_actions[0].choices["fit"]
    for action in fit_parser._actions:
        assert action.help, action.option_strings          # every option has help text
        assert action.option_strings[0] in text


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("BAYESFM_DATA"), reason="needs BAYESFM_DATA")
def test_fit_on_frappe_libfm_files_matches_api_auc(tmp_path, capsys):
    from sklearn.metrics import roc_auc_score

    from bayesfm.data import load_frappe
    from bayesfm.data.datasets import FRAPPE_FIELD_SIZES, FRAPPE_FIELDS

    X_tr, y_tr, X_te, y_te, info = load_frappe(path=os.environ["BAYESFM_DATA"], download=False)
    folder = os.path.join(os.environ["BAYESFM_DATA"], "frappe")
    groups = tmp_path / "frappe.groups"
    groups.write_text("".join(f"{f}\n" * n for f, n in
                              zip(FRAPPE_FIELDS, FRAPPE_FIELD_SIZES, strict=True)))
    settings = ["--rank", "8", "--iter", "100", "--warmup", "100", "--chains", "1",
                "--seed", "3"]
    out = tmp_path / "out"
    rc = main(["fit", "--train", os.path.join(folder, "frappe.validation.libfm"), "--test",
               os.path.join(folder, "frappe.test.libfm"), "--groups", str(groups), "--task",
               "binary", "--out", str(out), "--no-progress", *settings])
    assert rc == 0
    clf = BayesianFMClassifier(rank=8, num_warmup=100, num_samples=100, num_chains=1,
                               random_state=3, progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X_tr, y_tr, groups=info.group_of_feature)
    api_auc = roc_auc_score(y_te, clf.predict_proba(X_te)[:, 1])
    pred = pd.read_csv(out / "predictions.csv")
    report = json.loads((out / "report.json").read_text())
    np.testing.assert_array_equal(pred["y"], y_te)
    # Exact: one estimator, seed, data and grouping; the CSV holds 17 significant digits.
    assert roc_auc_score(pred["y"], pred["mean"]) == api_auc
    assert report["metrics"]["auc"] == api_auc
    assert api_auc > 0.9          # a working fit, not two equal failures


@pytest.mark.slow  # compiling SVI costs ~20 s of CPU even for 300 steps
def test_fit_svi_writes_the_elbo_and_no_rank_plot(libfm_files, tmp_path):
    out = tmp_path / "out"
    rc = main(["fit", "--train", str(libfm_files / "train.libfm"), "--test",
               str(libfm_files / "test.libfm"), "--task", "binary", "--method", "svi",
               "--link", "logit", "--svi-steps", "300", "--rank", "2", "--iter", "50",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert "elbo.png" in report["files"] and (out / "elbo.png").stat().st_size > 0
    assert "rank.png" not in report["files"]   # independent guide draws: nothing to rank
    assert report["convergence_problems"] == []


def test_inputs_without_test_labels_and_with_test_only_features(tmp_path):
    import argparse

    from bayesfm.cli.inputs import read_csv_inputs, read_libfm_inputs

    args = argparse.Namespace(task="binary", target="click", numeric="price", format="csv",
                              groups=None)
    tr = tmp_path / "tr.csv"
    tr.write_text("user,price,click\nu1,1.5,1\nu2,2.5,0\n")
    te = tmp_path / "te.csv"
    te.write_text("price,user\n3.0,u3\n")              # no label column; columns reordered
    data = read_csv_inputs(args, tr, te)
    assert data.y_test is None and list(data.X_test.columns) == ["user", "price"]
    np.testing.assert_array_equal(data.y_train, [1, 0])
    assert data.X_train["price"].dtype == np.float64 and data.X_train["user"].iloc[0] == "u1"

    args = argparse.Namespace(task="binary", format="libfm", groups=None)
    (tmp_path / "tr.libfm").write_text("1 0:1 2:1\n-1 1:1\n")
    (tmp_path / "te.libfm").write_text("1 0:1 7:1\n")    # feature 7 never seen in training
    data = read_libfm_inputs(args, tmp_path / "tr.libfm", tmp_path / "te.libfm")
    assert data.X_train.shape == (2, 8) and data.X_test.shape == (1, 8)
    np.testing.assert_array_equal(data.y_train, [1, 0])


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--model", "ifm"], ["method='gibbs' has no sampler for the 'ifm' interaction term",
                              "use method='nuts' or 'svi'"]),
        (["--model", "fm", "--hidden-units", "8"], ["--hidden-units applies to --model ifm"]),
        (["--model", "ifm", "--channels", "2"], ["--channels applies to --model cfm"]),
        (["--model", "ifm", "--temperature", "0"], ["argument --temperature"]),
    ],
)
def test_network_model_flags_are_checked(libfm_files, capsys, extra, needles):
    argv = ["fit", "--train", str(libfm_files / "train.libfm"), "--test",
            str(libfm_files / "test.libfm"), "--task", "binary", "--out", "unused", *extra]
    rc, err = run(argv, capsys)
    assert_one_line_error(rc, err, *needles)


@pytest.mark.slow  # 210 s on the shared 2-core host under load: the whole fit command
def test_fit_ifm_with_svi_passes_its_options(libfm_files, tmp_path, capsys):
    from bayesfm import load

    rc = main(["fit", "--train", str(libfm_files / "train.libfm"), "--test",
               str(libfm_files / "test.libfm"), "--task", "binary", "--method", "svi",
               "--svi-steps", "200", "--model", "ifm", "--hidden-units", "4", "2",
               "--temperature", "2", "--out", str(tmp_path / "o"), "--save",
               str(tmp_path / "m.bfm"), *FAST])
    assert rc == 0, capsys.readouterr().err
    fm = load(tmp_path / "m.bfm")
    assert fm.model == "ifm"
    assert fm.model_options == {"hidden_units": [4, 2], "temperature": 2.0}
    assert (tmp_path / "o" / "predictions.csv").exists()
