"""The bayesfm command line."""

import json

import pytest

from bayesfm.cli import main


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
    rc = main(["demo", "--out", str(tmp_path), "--rows", "400", "--samples", "0"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bayesfm: error:") and "num_samples" in err and "\n" not in err
