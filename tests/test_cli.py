import json

import numpy as np
import pandas as pd
import pytest
from cases_chinchilla import CASES

from bayescale._cli import EXIT_USER_ERROR, main

SMALL = ["--num-warmup", "200", "--num-samples", "200"]


def test_laws_lists_the_catalog(capsys):
    assert main(["laws", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["formula"].startswith("L = E + A/N^alpha") for r in rows)


@pytest.mark.filterwarnings("ignore::bayescale.ConvergenceWarning")
def test_demo_prints_every_section_and_writes_the_fan_chart(tmp_path, capsys):
    code = main(["demo", "--out", str(tmp_path), *SMALL])
    out = capsys.readouterr().out
    assert code in (0, 1)  # 1 = diagnostics flagged (possible at 200 draws); still complete
    for section in (
        "Dropped the 5 highest-loss",
        "Posterior",
        "Chinchilla",
        "Gopher",
        "Compute-optimal allocation",
        "D*/N*",
        "Fan chart written",
    ):
        assert section in out, section
    png = tmp_path / "chinchilla_fanchart.png"
    assert png.exists() and png.stat().st_size > 10_000


def test_fit_forecast_allocate_round_trip(tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    CASES[0].dataset(seed=11).to_csv(csv, index=False)
    fit_nc = tmp_path / "fit.nc"
    assert main(
        ["fit", str(csv), "--law", "chinchilla", "--out", str(fit_nc), *SMALL, "--json"]
    ) in (0, 1)
    capsys.readouterr()
    assert main(["forecast", str(fit_nc), "--at", "N=70e9,D=1.4e12", "--json"]) == 0
    fc = pd.DataFrame(json.loads(capsys.readouterr().out))
    assert fc.loc[0, "pred_lower"] < fc.loc[0, "median"] < fc.loc[0, "pred_upper"]
    assert main(["allocate", str(fit_nc), "--C", "5.76e23", "--json"]) == 0
    alloc = pd.DataFrame(json.loads(capsys.readouterr().out))
    np.testing.assert_allclose(6 * alloc["N_opt"] * alloc["D_opt"], 5.76e23, rtol=1e-6)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "missing.csv", "--law", "chinchilla", "--out", "x.nc"], "no such file"),
        (["fit", "{csv}", "--law", "kaplan_nope", "--out", "x.nc"], "unknown law"),
        (["fit", "{bad}", "--law", "chinchilla", "--out", "x.nc"], "'loss'"),
        (["forecast", "{csv}", "--at", "N=1"], "not a"),
    ],
)
def test_user_errors_exit_2_without_traceback(tmp_path, capsys, argv, message):
    csv = tmp_path / "runs.csv"
    CASES[0].dataset(seed=1).to_csv(csv, index=False)
    bad = tmp_path / "bad.csv"
    CASES[0].dataset(seed=1).drop(columns="loss").to_csv(bad, index=False)
    argv = [a.format(csv=csv, bad=bad) for a in argv]
    assert main(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
