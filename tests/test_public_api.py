"""The package's public names: one flat namespace that loads on first use."""

import json
import os
import subprocess
import sys
import textwrap

import bayescale as bs


def test_every_public_name_resolves_and_is_listed_once():
    assert len(set(bs.__all__)) == len(bs.__all__)
    assert set(bs.__all__) == {*bs._PUBLIC, *bs._SUBMODULES}
    for name in bs.__all__:
        assert getattr(bs, name) is not None, name
    assert set(bs.__all__) <= set(dir(bs))


def test_import_is_light_and_the_first_use_starts_the_engine():
    """``import bayescale`` (and so ``bayescale --help``) imports neither JAX nor pandas; the
    first public name loads them, with float64 on and one CPU device per requested core."""
    code = textwrap.dedent(
        """
        import json, sys
        import bayescale as bs
        light = {m: m in sys.modules for m in ("jax", "numpyro", "pandas", "arviz")}
        fit = bs.fit
        import jax, jax.numpy as jnp
        print(json.dumps({"light": light, "dtype": str(jnp.zeros(1).dtype),
                          "devices": len(jax.local_devices()),
                          "numpyro": "numpyro.infer" in sys.modules}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_ENABLE_X64")}
    env["BAYESCALE_CPU_DEVICES"] = "2"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert not any(got["light"].values()), got["light"]
    assert got["dtype"] == "float64" and got["devices"] == 2 and got["numpyro"]


def test_float64_is_set_when_jax_was_imported_first():
    code = "import jax, bayescale, jax.numpy as jnp; print(jnp.zeros(1).dtype)"
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "float64"


def test_cli_help_imports_no_jax():
    code = (
        "import sys\nfrom bayescale._cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('jax' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_the_catalog_lists_without_jax():
    """``bs.laws()`` and ``bayescale laws`` read the stored table: no JAX, no NumPyro."""
    code = (
        "import sys, contextlib, io\nimport bayescale as bs\nfrom bayescale._cli import main\n"
        "n = len(bs.laws())\nwith contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    code = main(['laws'])\n"
        "print(n, code, len(out.getvalue().splitlines()), 'jax' in sys.modules, "
        "'numpyro' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n, code, lines, jax, numpyro = out.stdout.strip().splitlines()[-1].split()
    assert (code, jax, numpyro) == ("0", "False", "False")
    assert int(lines) == int(n) + 1 and int(n) > 20


def test_the_stored_catalog_is_the_laws_own():
    """The table ``bs.laws()`` reads is what the laws of ``bayescale.models`` say about
    themselves, row for row and in order. After changing a law's name, inputs, formula,
    published parameters or reference, regenerate it: ``python -m bayescale._catalog``."""
    from bayescale._catalog import catalog_rows, live_rows

    stored, live = catalog_rows(), live_rows()
    assert list(stored) == list(live), "run `python -m bayescale._catalog`"
    for name, row in live.items():
        assert stored[name] == row, f"{name}: run `python -m bayescale._catalog`"


def test_one_default_interval_level_everywhere():
    """Every public function and method with a ``level`` defaults to the same probability, and
    the command line's ``--level`` options to it too: a summary, a forecast and an allocation
    made without one are intervals of one level."""
    import inspect

    from bayescale import _cli
    from bayescale._data import DEFAULT_LEVEL

    found = []
    for name in bs.__all__:
        obj = getattr(bs, name)
        members = [m for k, m in inspect.getmembers(obj) if callable(m) and not k.startswith("_")]
        for f in members if inspect.isclass(obj) or inspect.ismodule(obj) else [obj]:
            try:
                p = inspect.signature(f).parameters.get("level")
            except (TypeError, ValueError):
                continue
            if p is not None and p.default is not inspect.Parameter.empty:
                found.append((name, getattr(f, "__name__", name), p.default))
    names = {n for n, _, _ in found}
    assert {"Posterior", "leave_future_out", "plot"} <= names, sorted(names)
    assert all(d == DEFAULT_LEVEL for *_, d in found), [x for x in found if x[2] != DEFAULT_LEVEL]
    parser = _cli.build_parser()
    levels = []
    for action in parser._subparsers._group_actions[0].choices.values():
        levels += [a.default for a in action._actions if a.dest == "level"]
    assert len(levels) >= 4 and set(levels) == {DEFAULT_LEVEL}, levels
