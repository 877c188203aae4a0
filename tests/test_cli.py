import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from bayescale.models import chinchilla
from cases_chinchilla import CHINCHILLA_RANGE
from isoflop_cases import A_TRUE, BUDGETS, grid_posterior, isoflop_grid
from synthetic import synthetic_posterior

import bayescale
from bayescale._cli import (
    EXIT_INTERNAL_ERROR,
    EXIT_NOT_CONVERGED,
    EXIT_USER_ERROR,
    build_parser,
    main,
)

SMALL = ["--num-warmup", "200", "--num-samples", "200"]


def run(argv):
    """``main``'s exit code, also when argparse rejects an argument (it raises SystemExit)."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One small CLI fit shared by the tests: (csv, fit.nc, the --json summary records)."""
    folder = tmp_path_factory.mktemp("fit")
    csv, fit_nc = folder / "runs.csv", folder / "fit.nc"
    CHINCHILLA_RANGE.dataset(seed=11).to_csv(csv, index=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            ["fit", str(csv), "--law", "chinchilla", "--out", str(fit_nc), *SMALL, "--json"]
        )
    assert code in (0, 1)
    return csv, fit_nc, json.loads(out.getvalue())


@pytest.fixture
def no_sampling(monkeypatch):
    """Replace bayescale.fit: a test using it proves its error came before any sampling."""
    calls = []
    monkeypatch.setattr(bayescale, "fit", lambda *a, **k: calls.append(1) or 1 / 0)
    return calls


def test_laws_lists_the_catalog(capsys):
    assert main(["laws", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["formula"].startswith("L = E + A/N^alpha") for r in rows)
    # the records keep the law names (orient="records" used to drop the index)
    chinchilla = [r for r in rows if r.get("law") == "chinchilla"]
    assert len(chinchilla) == 1 and chinchilla[0]["formula"].startswith("L = E + A/N^alpha")


def test_laws_fit_a_100_column_terminal_unless_wide(capsys):
    assert main(["laws"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["law", "inputs", "formula", "reference"]
    assert max(map(len, lines)) <= 100
    assert any(ln.startswith("chinchilla ") and "Hoffmann et al. (2022)" in ln for ln in lines)
    assert len(lines) == len(bayescale.laws()) + 1
    assert main(["laws", "--wide"]) == 0
    assert "arXiv:2203.15556" in capsys.readouterr().out


class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_stops_quietly(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["laws"]) == 141
    assert capsys.readouterr().err == ""


def test_laws_into_a_closed_pipe_prints_nothing_on_stderr():
    """`bayescale laws | head -1`: the reader is gone before the first write."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bayescale._cli", "laws"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "BAYESCALE_CPU_DEVICES": "1"},
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


@pytest.mark.slow  # the default 4 x (1000 + 1000) fit of the README's main command (~13 s)
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


def test_fit_forecast_allocate_round_trip(fitted, capsys):
    _, fit_nc, summary = fitted
    # --json records name the parameter of each row
    assert {r["param"] for r in summary} >= {"alpha", "beta", "sigma"}
    # the law's error was learned at fit time and saved: forecasts from the file refit nothing
    learned = bayescale.load(fit_nc).discrepancy
    assert isinstance(learned, bayescale.Discrepancy), learned
    # --force: the small fit may fail a diagnostic at some seed (tested below, on its own)
    assert main(["forecast", str(fit_nc), "--at", "N=70e9,D=1.4e12", "--json", "--force"]) == 0
    fc = pd.DataFrame(json.loads(capsys.readouterr().out))
    assert fc.loc[0, "pred_lower"] < fc.loc[0, "median"] < fc.loc[0, "pred_upper"]
    assert main(["allocate", str(fit_nc), "--C", "5.76e23", "--json", "--force"]) == 0
    alloc = pd.DataFrame(json.loads(capsys.readouterr().out))
    # 6 significant digits each (relative rounding <= 5e-6): the product is within 1e-5
    np.testing.assert_allclose(6 * alloc["N_opt"] * alloc["D_opt"], 5.76e23, rtol=1e-5)
    assert all(
        len(f"{v:.15g}".replace("-", "").split("e")[0].replace(".", "").strip("0")) <= 6
        for v in alloc.select_dtypes("number").to_numpy().ravel()
    )
    # as text: one line per quantity, one column per budget
    assert main(["allocate", str(fit_nc), "--C", "5.76e23", "--C", "1e24", "--force"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["C=5.76e+23", "C=1e+24"]
    assert [ln.split()[0] for ln in lines[1:4]] == ["N_opt", "N_opt_lower", "N_opt_upper"]


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
    CHINCHILLA_RANGE.dataset(seed=1).to_csv(csv, index=False)
    bad = tmp_path / "bad.csv"
    CHINCHILLA_RANGE.dataset(seed=1).drop(columns="loss").to_csv(bad, index=False)
    argv = [a.format(csv=csv, bad=bad) for a in argv]
    assert main(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_forecast_takes_one_full_point_per_at(saved_fits, capsys):
    import jax

    fit_nc = saved_fits[0]
    argv = ["forecast", str(fit_nc), "--at", "N=70e9,D=1.4e12", "--at", "D=3e11,N=280e9"]
    threshold = jax.config.jax_persistent_cache_min_compile_time_secs
    assert main([*argv, "--json"]) == 0
    # the query stores its small programs in the cache only while it runs
    assert jax.config.jax_persistent_cache_min_compile_time_secs == threshold
    fc = pd.DataFrame(json.loads(capsys.readouterr().out))
    np.testing.assert_array_equal(fc["N"], [70e9, 280e9])
    np.testing.assert_array_equal(fc["D"], [1.4e12, 3e11])


@pytest.mark.parametrize(
    "points, message",
    [
        # point 2's D was silently taken from point 1
        (["N=70e9,D=1.4e12", "N=280e9"], ["point 2", "missing input(s) ['D']"]),
        (["N=70e9"], ["point 1", "missing input(s) ['D']"]),
        (["N=70e9,D=1.4e12,C=1e23"], ["point 1", "unknown input 'C'", "['N', 'D']"]),
        (["N=70e9,D=1.4e12,N=1e9"], ["point 1", "'N' given twice"]),
        (["N=70e9,D=lots"], ["point 1", "not a number"]),
    ],
)
def test_forecast_points_must_name_every_input(saved_fits, capsys, points, message):
    fit_nc = saved_fits[1]  # a failed fit: the arguments are checked first
    argv = ["forecast", str(fit_nc)]
    for point in points:
        argv += ["--at", point]
    assert main(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    for part in message:
        assert part in err, (part, err)


def test_internal_errors_exit_3_with_a_traceback(monkeypatch, capsys):
    def broken():  # a ValueError raised inside a dependency, not by an argument check
        return pd.DataFrame({"a": [1, 2], "b": [1]})

    monkeypatch.setattr(bayescale, "laws", broken)
    assert main(["laws"]) == EXIT_INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error" in err

    monkeypatch.setattr(bayescale, "laws", lambda: 1 / 0)
    assert main(["laws"]) == EXIT_INTERNAL_ERROR
    assert "ZeroDivisionError" in capsys.readouterr().err
    assert "3 internal error (please report)" in build_parser().format_help()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--level", "95"], "--level: must be a probability strictly between 0 and 1"),
        (["--level", "0"], "--level: must be a probability"),
        (["--num-chains", "0"], "--num-chains: must be a positive integer"),
        (["--num-samples", "-5"], "--num-samples: must be a positive integer"),
        (["--num-warmup", "x"], "--num-warmup: must be an integer >= 0"),
        (["--units", "N=billion"], "--units: expected COL=FACTOR"),
        (["--units", "N=-1"], "--units: expected COL=FACTOR"),
        (["--units", "Q=1e9"], "units declared for column(s) ['Q']"),
        (["--units", "N=1e9", "--units", "N=1e6"], "names column 'N' twice"),
        (["--out", "{tmp}/no/such/dir/o.nc"], "does not exist"),
        (["--out", "{tmp}"], "is a folder"),
    ],
)
def test_fit_checks_its_arguments_before_sampling(
    fitted, tmp_path, capsys, no_sampling, extra, message
):
    csv = fitted[0]
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(tmp_path / "o.nc"), *extra]
    assert run([a.format(tmp=tmp_path) for a in argv]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not no_sampling


def test_demo_checks_its_folder_before_sampling(tmp_path, capsys, no_sampling):
    (tmp_path / "file").write_text("")
    assert main(["demo", "--out", str(tmp_path / "file" / "sub")]) == EXIT_USER_ERROR
    assert "Traceback" not in capsys.readouterr().err
    assert not no_sampling


@pytest.mark.parametrize("command", ["forecast", "allocate"])
def test_level_is_checked_for_saved_fits_too(saved_fits, capsys, command):
    where = ["--at", "N=70e9,D=1.4e12"] if command == "forecast" else ["--C", "1e23"]
    assert run([command, str(saved_fits[0]), *where, "--level", "90"]) == EXIT_USER_ERROR
    assert "--level: must be a probability" in capsys.readouterr().err


def _messy_table(tmp_path):
    """The fixture's table with N in billions, one row with a missing loss, one copied row."""
    clean = CHINCHILLA_RANGE.dataset(seed=11)
    messy = clean.assign(N=clean["N"] / 1e9)
    nan_row = messy.iloc[[0]].assign(loss=np.nan)
    messy = pd.concat([messy, nan_row, messy.iloc[[1]]], ignore_index=True)
    csv = tmp_path / "messy.csv"
    messy.to_csv(csv, index=False)
    return clean, csv


@pytest.mark.parametrize(
    "options, message",
    [
        ([], "pass --dropna to drop these rows"),
        (["--dropna"], "declare --units N=1e9"),
    ],
)
@pytest.mark.filterwarnings("ignore::bayescale.DataWarning")
def test_fit_data_errors_name_the_cli_options(tmp_path, capsys, no_sampling, options, message):
    _, csv = _messy_table(tmp_path)
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(tmp_path / "o.nc"), *options]
    assert main(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not no_sampling


@pytest.mark.filterwarnings("ignore::bayescale.DataWarning")
def test_fit_units_dropna_drop_duplicates(fitted, tmp_path, capsys):
    clean, csv = _messy_table(tmp_path)
    out = tmp_path / "o.nc"
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(out), *SMALL, "--json"]
    argv += ["--units", "N=1e9", "--dropna", "--drop-duplicates"]
    assert main(argv) in (0, 1)
    data = bayescale.load(out).data
    assert len(data) == len(clean)
    np.testing.assert_allclose(data["N"], clean["N"], rtol=1e-12)
    np.testing.assert_allclose(data["loss"], clean["loss"], rtol=1e-12)


@pytest.fixture(scope="module")
def saved_fits(tmp_path_factory):
    """Two saved fits made without sampling: one that passes, one whose chains disagree."""
    folder = tmp_path_factory.mktemp("saved")
    data = bayescale.datasets.load("chinchilla", variant="epoch")[["N", "D", "loss"]]
    good, bad = folder / "good.nc", folder / "bad.nc"
    synthetic_posterior(data).save(good)
    synthetic_posterior(data, chain_shift=1.0).save(bad)  # the object claims ok; load knows
    data.to_csv(folder / "runs.csv", index=False)
    return good, bad, folder / "runs.csv"


@pytest.mark.parametrize(
    "command, where",
    [("forecast", ["--at", "N=70e9,D=1.4e12"]), ("allocate", ["--C", "5.76e23"])],
)
def test_a_failed_fit_gives_no_numbers_without_force(saved_fits, capsys, command, where):
    good, bad, _ = saved_fits
    assert main([command, str(bad), *where, "--json"]) == EXIT_NOT_CONVERGED
    out, err = capsys.readouterr()
    assert out == "" and "FAILED its diagnostics; no numbers without --force" in err
    assert "R-hat above 1.01 for ['alpha']" in err and "Remedy:" in err
    assert main([command, str(bad), *where, "--json", "--force"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) and "numbers follow (--force), do not trust them" in err
    assert main([command, str(good), *where, "--json"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("seed", ["-1", "1.5", "abc", str(2**63), str(2**70)])
def test_seeds_are_checked_before_sampling(saved_fits, capsys, no_sampling, seed):
    _, _, csv = saved_fits
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(csv.with_name("o.nc"))]
    assert run([*argv, "--seed", seed]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "--seed: must be an integer in [0, 2**63)" in err and "Traceback" not in err
    assert not no_sampling
    assert run(["compare", str(csv), str(csv), "--seed", seed]) == EXIT_USER_ERROR


def test_out_must_not_be_the_input_and_may_be_dev_null(saved_fits, monkeypatch, capsys):
    good, _, csv = saved_fits
    before = csv.read_bytes()
    calls = []
    monkeypatch.setattr(bayescale, "fit", lambda *a, **k: calls.append(1) or bayescale.load(good))
    argv = ["fit", str(csv), "--law", "chinchilla", "--json"]
    assert run([*argv, "--out", str(csv)]) == EXIT_USER_ERROR
    assert "is the input table" in capsys.readouterr().err and not calls
    same = csv.parent / "." / csv.name  # another spelling of the same file
    assert run([*argv, "--out", str(same)]) == EXIT_USER_ERROR and not calls
    assert csv.read_bytes() == before
    capsys.readouterr()
    assert run([*argv, "--out", os.devnull]) == 0  # the fit is discarded, not a crash
    assert calls and capsys.readouterr().err == ""


def test_implausible_values_name_the_cli_flags(saved_fits, tmp_path, monkeypatch, capsys):
    """Units of billions applied to raw counts: exit 2 before sampling, naming --max; with
    --max the table passes, and the raised bound travels with it into the fit."""
    good, _, csv = saved_fits
    seen = []

    def fake_fit(law, data, **kwargs):
        seen.append(data)
        return bayescale.load(good)

    monkeypatch.setattr(bayescale, "fit", fake_fit)
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(tmp_path / "o.nc"), "--json"]
    assert run([*argv, "--units", "N=1e9"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "above 1e+15 parameters" in err and "--max N=" in err and "max_values" not in err
    assert not seen
    assert run([*argv, "--units", "N=1e9", "--max", "N=inf"]) == 0
    (data,) = seen
    assert data.attrs["max_values"] == {"N": float("inf")}
    assert run([*argv, "--max", "N=-1"]) == EXIT_USER_ERROR
    assert "--max: expected COL=BOUND with a positive number" in capsys.readouterr().err


def test_a_semicolon_table_gets_a_hint(tmp_path, capsys, no_sampling):
    csv = tmp_path / "runs.csv"
    CHINCHILLA_RANGE.dataset(seed=1).to_csv(csv, sep=";", index=False)
    assert run(["fit", str(csv), "--law", "chinchilla", "--out", str(tmp_path / "o.nc")]) == 2
    err = capsys.readouterr().err
    assert "looks ';'-separated" in err and len(err.strip().splitlines()) == 1
    assert not no_sampling


def test_fit_reports_influential_rows_with_their_file_lines(tmp_path, capsys):
    """The model check of `fit` reaches the command line: the note names the row as the
    Python API does, says which line of the file that is, and gives the option to try."""
    csv = tmp_path / "all.csv"
    bayescale.datasets.load("chinchilla").to_csv(csv, index=False)
    # default sampler settings: the check runs only on a fit that passed its diagnostics
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(tmp_path / "f.nc")]
    assert main([*argv, "--json"]) == 0
    err = capsys.readouterr().err
    note = [ln for ln in err.splitlines() if ln.startswith("NOTE: influential rows")]
    assert len(note) == 1, err
    assert "row(s) 1 (k" in note[0] and "--noise student_t" in note[0]
    assert f"(row r is line r + 2 of {csv})" in note[0]


# ----------------------------------------------------------------------------- bayescale plot
_MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF"}


@pytest.mark.parametrize(
    "kind, name, extra",
    [
        ("fan", "fan.png", ["--x-max", "1e24"]),
        ("isoflop", "iso.svg", ["--C", "1e19", "--C", "1e20"]),
        ("frontier", "frontier.pdf", ["--C", "1e18", "--C", "1e24"]),
        ("pairs", "pairs.PNG", ["--params", "E,alpha,beta"]),
    ],
)
def test_plot_writes_each_kind_in_the_format_of_its_suffix(
    saved_fits, tmp_path, capsys, kind, name, extra
):
    out = tmp_path / name
    argv = ["plot", str(saved_fits[0]), "--kind", kind, "--out", str(out), "--dpi", "40"]
    assert main([*argv, *extra]) == 0
    assert out.read_bytes().startswith(_MAGIC[out.suffix.lower()])
    assert capsys.readouterr().out.strip() == f"{kind} plot of {saved_fits[0]} written to {out}"
    # written through a temporary file renamed over the target: nothing else is left behind
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_plot_defaults_to_a_fan_chart_png_beside_the_fit(saved_fits, tmp_path, capsys):
    fit_nc = tmp_path / "mine.nc"
    fit_nc.write_bytes(saved_fits[0].read_bytes())
    assert main(["plot", str(fit_nc), "--dpi", "40"]) == 0
    assert (tmp_path / "mine_fan.png").read_bytes().startswith(_MAGIC[".png"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--out", "{tmp}/fan.jpg"], "cannot tell the image type from '.jpg'"),
        (["--out", "{tmp}/fan"], "cannot tell the image type from 'no suffix'"),
        (["--out", "{tmp}/no/such/dir/fan.png"], "does not exist"),
        (["--kind", "pairs", "--C", "1e20"], "--C applies to --kind isoflop or frontier"),
        (["--kind", "isoflop", "--params", "E"], "--params applies to --kind pairs"),
        (["--kind", "pairs", "--x-max", "1e25"], "--x-max applies to --kind fan"),
        (["--kind", "frontier", "--C", "1e20"], "takes --C twice, the smallest and the largest"),
        (["--kind", "frontier", "--C", "1e24", "--C", "1e20"], "takes --C twice"),
        (["--kind", "isoflop", "--C", "lots"], "--C 'lots' is not a number"),
        (["--kind", "pairs", "--params", "E,gamma"], "no parameter(s) ['gamma']"),
        (["--kind", "heatmap"], "invalid choice: 'heatmap' (choose from fan, isoflop"),
        (["--x-max", "-3"], "--x-max: must be a positive number"),
        (["--level", "90"], "--level: must be a probability"),
    ],
)
def test_plot_names_what_is_wrong(saved_fits, tmp_path, capsys, extra, message):
    argv = ["plot", str(saved_fits[0]), *[a.format(tmp=tmp_path) for a in extra]]
    if "--out" not in extra:
        argv += ["--out", str(tmp_path / "p.png")]
    assert run(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err.replace("'fan', 'isoflop'", "fan, isoflop"), err
    assert "Traceback" not in err
    assert not (tmp_path / "p.png").exists()


def test_plot_of_a_missing_fit_or_a_law_without_n_and_d(tmp_path, capsys):
    from test_plot import accuracy_posterior

    assert main(["plot", str(tmp_path / "none.nc"), "--out", str(tmp_path / "p.png")]) == 2
    assert "none.nc: no such file" in capsys.readouterr().err
    accuracy = tmp_path / "accuracy.nc"
    accuracy_posterior().save(accuracy)
    argv = ["plot", str(accuracy), "--kind", "isoflop", "--out", str(tmp_path / "p.png")]
    assert main(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "isoflop needs a law in parameters N and tokens D" in err and "Traceback" not in err


def test_plot_of_a_failed_fit_needs_force_and_keeps_the_old_image(saved_fits, tmp_path, capsys):
    out = tmp_path / "fan.png"
    out.write_bytes(b"previous image")
    argv = ["plot", str(saved_fits[1]), "--kind", "pairs", "--out", str(out), "--dpi", "40"]
    assert main(argv) == EXIT_NOT_CONVERGED
    err = capsys.readouterr().err
    assert "FAILED its diagnostics; no numbers without --force" in err
    assert out.read_bytes() == b"previous image"
    # a plot that fails while drawing leaves the previous file as it was, too
    assert main([*argv, "--force", "--params", "gamma"]) == EXIT_USER_ERROR
    assert out.read_bytes() == b"previous image"
    assert main([*argv, "--force"]) == 0
    assert out.read_bytes().startswith(_MAGIC[".png"])


def test_every_option_has_help_and_choices_are_listed():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    assert {"plot", "fit"} <= set(subparsers)
    for name, sub in subparsers.items():
        for action in sub._actions:
            assert action.help, (name, action.dest)
    fit_help = subparsers["fit"].format_help()
    assert "--method {nuts,chees,laplace,svi,map,hoffmann}" in fit_help
    assert "--groups COL[,COL]" in fit_help
    assert "--kind {fan,isoflop,frontier,pairs}" in subparsers["plot"].format_help()


def test_methods_of_the_command_line_are_the_engines():
    from bayescale._cli import METHODS
    from bayescale._methods import METHODS as ENGINE_METHODS

    assert METHODS == tuple(ENGINE_METHODS)


def test_the_parser_imports_no_jax_or_matplotlib():
    code = (
        "import sys, bayescale._cli as cli; cli.build_parser().format_help(); "
        "print(sorted(m for m in ('jax', 'matplotlib', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- fit options
def _fake_fit(monkeypatch, good):
    seen = []

    def fake_fit(law, data, **kwargs):
        seen.append((data, kwargs))
        return bayescale.load(good)

    monkeypatch.setattr(bayescale, "fit", fake_fit)
    return seen


@pytest.mark.parametrize("method", ["nuts", "chees", "laplace", "svi", "map", "hoffmann"])
def test_fit_passes_its_method(saved_fits, tmp_path, monkeypatch, capsys, method):
    good, _, csv = saved_fits
    seen = _fake_fit(monkeypatch, good)
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(tmp_path / "o.nc"), "--json"]
    assert main([*argv, "--method", method]) == 0
    ((_, kwargs),) = seen
    assert kwargs["method"] == method and kwargs["groups"] is None


def test_fit_passes_only_the_settings_its_method_has(saved_fits, tmp_path, monkeypatch, capsys):
    """Unset sampler options are the method's own defaults; a progress bar where it has one."""
    good, _, csv = saved_fits
    seen = _fake_fit(monkeypatch, good)
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(tmp_path / "o.nc"), "--json"]
    assert main([*argv, "--method", "laplace", "--num-samples", "200"]) == 0
    assert main([*argv, "--method", "hoffmann"]) == 0
    assert main([*argv, "--num-warmup", "300"]) == 0
    settings = [
        {k: v for k, v in kw.items() if k not in ("seed", "noise", "method", "groups")}
        for _, kw in seen
    ]
    assert settings == [{"num_samples": 200}, {}, {"num_warmup": 300, "progress": False}]


@pytest.mark.parametrize(
    "method, option, message",
    [
        ("map", "--num-samples", "--num-samples does not apply to --method map (it has no "),
        (
            "laplace",
            "--num-warmup",
            "--num-warmup does not apply to --method laplace (its "
            "options: --num-chains, --num-samples)",
        ),
    ],
)
def test_fit_rejects_an_option_its_method_lacks_before_sampling(
    saved_fits, tmp_path, capsys, no_sampling, method, option, message
):
    argv = ["fit", str(saved_fits[2]), "--law", "chinchilla", "--out", str(tmp_path / "o.nc")]
    assert run([*argv, "--method", method, option, "5"]) == EXIT_USER_ERROR
    assert message in capsys.readouterr().err
    assert not no_sampling


def test_fit_rejects_an_unknown_method_before_sampling(saved_fits, tmp_path, capsys, no_sampling):
    argv = ["fit", str(saved_fits[2]), "--law", "chinchilla", "--out", str(tmp_path / "o.nc")]
    assert run([*argv, "--method", "hmc"]) == EXIT_USER_ERROR
    assert "--method: invalid choice: 'hmc'" in capsys.readouterr().err
    assert not no_sampling


def test_fit_method_laplace_writes_an_approximate_fit(fitted, tmp_path, capsys):
    csv = fitted[0]
    out = tmp_path / "laplace.nc"
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(out), "--json"]
    assert main([*argv, "--method", "laplace", "--num-samples", "200"]) in (0, 1)
    post = bayescale.load(out)
    assert post.method == "laplace" and post.approximate
    alpha = {r["param"]: r for r in json.loads(capsys.readouterr().out)}["alpha"]
    assert alpha["lower"] < CHINCHILLA_RANGE.truth["alpha"] < alpha["upper"]


def _grouped_table(tmp_path, labels):
    data = CHINCHILLA_RANGE.dataset(seed=11)
    data["family"] = [labels[i % len(labels)] for i in range(len(data))]
    csv = tmp_path / "grouped.csv"
    data.to_csv(csv, index=False)
    return data, csv


def test_fit_passes_groups_with_their_labels(saved_fits, tmp_path, monkeypatch, capsys):
    seen = _fake_fit(monkeypatch, saved_fits[0])
    data, csv = _grouped_table(tmp_path, ["gpt", "llama"])
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(tmp_path / "o.nc"), "--json"]
    assert main([*argv, "--groups", "family"]) == 0
    ((passed, kwargs),) = seen
    assert kwargs["groups"] == ["family"]
    # the labels travel row by row with the checked columns
    assert list(passed["family"]) == list(data["family"])
    np.testing.assert_allclose(passed["N"], data["N"], rtol=1e-12)
    seen.clear()
    assert main([*argv, "--groups", "family, N"]) == 0
    assert seen[0][1]["groups"] == ["family", "N"]


@pytest.mark.parametrize(
    "groups, labels, message",
    [
        ("size", ["a", "b"], "--groups: no column(s) ['size'] in"),
        ("family,", ["a", "b"], "expected column names like family"),
        ("family,family", ["a", "b"], "names a column twice"),
        ("family", ["a", None], "row(s) of"),
    ],
)
def test_fit_groups_are_checked_before_sampling(
    tmp_path, capsys, no_sampling, groups, labels, message
):
    _, csv = _grouped_table(tmp_path, labels)
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(tmp_path / "o.nc")]
    assert run([*argv, "--groups", groups]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not no_sampling


# ----------------------------------------------------------------------------- planning


@pytest.fixture(scope="module")
def isoflop_fits(tmp_path_factory):
    """Saved fits (made without sampling) on isoFLOP curves of a known law: one whose law
    allocates as the curves do, one whose law does not (a = 0.6 against the curves' 0.45)."""
    folder = tmp_path_factory.mktemp("isoflop")
    data = isoflop_grid(np.random.default_rng(0))
    law_error = bayescale.Discrepancy.fixed(0.03)
    agree, disagree = folder / "agree.nc", folder / "disagree.nc"
    grid_posterior(data, discrepancy=law_error).save(agree)
    grid_posterior(data, beta=0.5, discrepancy=law_error).save(disagree)
    return agree, disagree


def test_allocate_by_the_isoflop_curves(isoflop_fits, capsys):
    agree, disagree = isoflop_fits
    assert main(["allocate", str(agree), "--C", "1e23", "--method", "isoflop", "--json"]) == 0
    out, err = capsys.readouterr()
    (row,) = json.loads(out)
    assert row["a_lower"] < A_TRUE < row["a_upper"] and err == ""
    assert "loss_pred" not in row
    budgets = ",".join(f"{c:g}" for c in BUDGETS)
    argv = ["allocate", str(agree), "--C", "1e23", "--method", "isoflop", "--json"]
    assert main([*argv, "--budgets", budgets, "--tolerance", "1.05"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["a"] == pytest.approx(row["a"], rel=1e-5)
    # estimators that disagree: numbers, and the warning on stderr
    assert main(["allocate", str(disagree), "--C", "1e23", "--method", "isoflop"]) == 0
    out, err = capsys.readouterr()
    assert "a_lower" in out and err.startswith("WARNING: the 90% intervals of the exponent a")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--budgets", "1e20,1e21,1e22"], "--budgets applies to --method isoflop"),
        (["--tolerance", "1.2"], "--tolerance applies to --method isoflop"),
        (["--method", "isoflop", "--budgets", "1e20,x"], "--budgets 'x' is not a number"),
        (["--method", "isoflop", "--tolerance", "1"], "must be a factor above 1"),
        (["--method", "approach2"], "invalid choice: 'approach2'"),
    ],
)
def test_allocate_checks_its_isoflop_options_before_loading(tmp_path, capsys, extra, message):
    argv = ["allocate", str(tmp_path / "missing.nc"), "--C", "1e23", *extra]
    assert run(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "no such file" not in err and "Traceback" not in err, err


def test_allocate_isoflop_names_too_few_curves(isoflop_fits, capsys):
    argv = ["allocate", str(isoflop_fits[0]), "--C", "1e23", "--method", "isoflop"]
    assert main([*argv, "--budgets", "6e18,3e19"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "at least 3 FLOP budgets" in err and "Traceback" not in err


def test_prob_reach_of_a_run_and_of_a_budget(isoflop_fits, capsys):
    agree = isoflop_fits[0]
    argv = ["prob-reach", str(agree), "--loss", "2.0", "--json"]
    assert main([*argv, "--N", "7e10", "--D", "1.4e12"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    want = bayescale.load(agree).prob_reach(2.0, N=7e10, D=1.4e12)
    assert row["p_reach"] == pytest.approx(want["p_reach"].iloc[0], rel=1e-5)
    assert 0 < row["p_reach"] < 1 and row["p_reach_se"] > 0
    # two targets for one run given --at, as forecast takes it
    assert main([*argv, "--loss", "2.1", "--at", "N=7e10,D=1.4e12"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["loss"] for r in rows] == [2.0, 2.1] and rows[0]["p_reach"] < rows[1]["p_reach"]
    assert rows[0]["p_reach"] == row["p_reach"]
    # the compute-optimal run at a budget, as text
    assert main(["prob-reach", str(agree), "--loss", "2.0", "--C", "5.76e23"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == ["C", "N_opt", "D_opt", "loss", "p_reach", "p_reach_se", "distance"]


@pytest.mark.parametrize(
    "where, message",
    [
        ([], "name the run one way"),
        (["--N", "7e10", "--D", "1e12", "--C", "1e23"], "got --C and --N/--D"),
        (["--at", "N=1e9,D=1e10", "--N", "1e9"], "got --N/--D and --at"),
        (["--N=-7e10", "--D", "1e12"], "--N: must be a positive number"),
        (["--N", "7e10", "--D", "1e12", "--C", "big"], "got --C and --N/--D"),
    ],
)
def test_prob_reach_takes_its_run_one_way_before_loading(tmp_path, capsys, where, message):
    argv = ["prob-reach", str(tmp_path / "missing.nc"), "--loss", "2.0", *where]
    assert run(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "no such file" not in err and "Traceback" not in err, err


def test_prob_reach_of_a_missing_or_failed_fit(saved_fits, tmp_path, capsys):
    good, bad, _ = saved_fits
    where = ["--loss", "3.0", "--N", "1e9", "--D", "2e10", "--json"]  # inside the data
    assert run(["prob-reach", str(tmp_path / "missing.nc"), *where]) == EXIT_USER_ERROR
    assert "no such file" in capsys.readouterr().err
    assert main(["prob-reach", str(bad), *where]) == EXIT_NOT_CONVERGED
    out, err = capsys.readouterr()
    assert out == "" and "no numbers without --force" in err
    assert main(["prob-reach", str(bad), *where, "--force"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["distance"] == 0
    assert main(["prob-reach", str(good), *where]) == 0


def test_cost_of_chinchilla_on_1024_a100s(capsys):
    fleet = ["--hardware", "a100", "--count", "1024", "--price", "1.5"]
    assert main(["cost", "5.76e23", *fleet, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    hours = 5.76e23 / (312e12 * 0.4) / 3600
    assert row["accelerator_hours"] == pytest.approx(hours, rel=1e-5)
    assert row["days"] == pytest.approx(hours / 1024 / 24, rel=1e-5)
    assert row["cost"] == pytest.approx(1.5 * hours, rel=1e-5)
    assert main(["cost", "5.76e23", "1e24", *fleet]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "1024 x a100 (3.12e+14 FLOP/s peak) at 40% MFU, 1.5/h:"
    assert lines[1].split() == ["C", "accelerator_hours", "days", "cost"] and len(lines) == 4
    assert main(["cost", "3.6e18", "--peak-flops", "1e15", "--mfu", "0.5", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["accelerator_hours"] == pytest.approx(2.0) and row["cost"] is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["1e24"], "give --hardware (a preset, e.g. h100) or --peak-flops"),
        (["1e24", "--hardware", "h100", "--peak-flops", "1e15"], "one of them"),
        (["1e24", "--hardware", "v100"], "presets: a100, h100, h100_pcie"),
        (["1e24", "--hardware", "v100"], "(or give --peak-flops)"),
        (["1e24", "--peak-flops", "989"], "not TFLOP/s"),
        (["1e24", "--hardware", "h100", "--mfu", "40"], "--mfu: must be a fraction in (0, 1]"),
        (["1e24", "--hardware", "h100", "--count", "0"], "--count: must be a positive integer"),
        (["1e24", "--hardware", "h100", "--price", "-1"], "--price: must be a price"),
        (["lots", "--hardware", "h100"], "C 'lots' is not a number"),
        (["0", "--hardware", "h100"], "C must be finite and positive"),
    ],
)
def test_cost_names_what_is_wrong(capsys, argv, message):
    assert run(["cost", *argv]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


def test_cost_needs_no_jax_and_lists_every_preset():
    code = (
        "import sys, bayescale._cli as cli; cli.main(['cost', '1e24', '--hardware', 'h100']); "
        "print(sorted(m for m in ('jax', 'numpyro', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
    subparsers = next(a for a in build_parser()._actions if a.dest == "command").choices
    hardware_help = next(a.help for a in subparsers["cost"]._actions if a.dest == "hardware")
    assert all(name in hardware_help for name in bayescale.HARDWARE)


@pytest.mark.parametrize(
    "error, code",
    [
        (bayescale.InvalidValueError("level must be in (0, 1), got 2"), EXIT_USER_ERROR),
        (bayescale.InvalidTypeError("law must be a bayescale.Law, got str"), EXIT_USER_ERROR),
        (bayescale.UnknownNameError("unknown dataset 'nope'; bundled datasets: [...]"), 2),
        (bayescale.ComputationError("tempered SMC did not reach the posterior"), 1),
        (FileNotFoundError(2, "No such file or directory"), EXIT_USER_ERROR),
        (ValueError("a ValueError that bayescale did not raise on purpose"), 3),
        (KeyError("a KeyError that bayescale did not raise on purpose"), 3),
    ],
)
def test_exit_codes_follow_the_error_type(monkeypatch, capsys, error, code):
    def failing():
        raise error

    monkeypatch.setattr(bayescale, "laws", failing)
    assert main(["laws"]) == code
    err = capsys.readouterr().err
    assert ("Traceback" in err) == (code == EXIT_INTERNAL_ERROR)
    if code != EXIT_INTERNAL_ERROR:  # one line, the message as written (no quotes added)
        assert err.strip().splitlines() == [f"bayescale laws: error: {error}"]


def test_data_errors_name_the_command_line_options(tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    data = CHINCHILLA_RANGE.dataset(seed=1)
    data.loc[3, "loss"] = np.nan
    data.to_csv(csv, index=False)
    with pytest.raises(bayescale.DataError, match=r"dropna=True") as raised:
        bayescale.read_table(csv, law=chinchilla)
    assert "--dropna" in raised.value.cli_message
    argv = ["fit", str(csv), "--law", "chinchilla", "--out", str(tmp_path / "x.nc")]
    assert main(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "--dropna" in err and "dropna=True" not in err
    scaled = tmp_path / "scaled.csv"
    data.dropna().assign(N=lambda d: d["N"] / 1e9).to_csv(scaled, index=False)
    assert main(["fit", str(scaled), "--law", "chinchilla", "--out", str(tmp_path / "y.nc")]) == 2
    err = capsys.readouterr().err
    assert "--units N=1e9" in err and "units={" not in err
