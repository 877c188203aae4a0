"""Files are written whole or not at all: faults injected during a save leave the old file.

Each fault (SIGKILL, a file-size limit, Ctrl-C, a failed or interrupted write, a memory error)
strikes while a file that already holds a good fit is being replaced; afterwards that file must
still load, byte for byte the old one, with no temporary file left where the process survived.
Faults that end a process run in a child process.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time

import matplotlib
import numpy as np
import pytest
from synthetic import synthetic_posterior

import bayescale as bs
from bayescale import _files
from bayescale._cli import EXIT_INTERRUPTED, EXIT_USER_ERROR, main

matplotlib.use("Agg")

# The children run without the compilation cache: under the file-size limit JAX would write a
# truncated cache entry (it writes in place), and warn about it in every later process.
CHILD_ENV = {
    **os.environ,
    "BAYESCALE_CPU_DEVICES": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "BAYESCALE_COMPILATION_CACHE": "0",
}


@pytest.fixture(scope="module")
def epoch():
    return bs.datasets.load("chinchilla", variant="epoch")[["N", "D", "loss"]]


@pytest.fixture(scope="module")
def post(epoch):
    return synthetic_posterior(epoch)


@pytest.fixture
def old_file(post, tmp_path):
    """A saved fit (the file every fault must leave as it is) and its bytes."""
    path = tmp_path / "fit.nc"
    post.save(path)
    return path, path.read_bytes()


def _assert_intact(path, old_bytes, *, no_leftovers=True):
    assert path.read_bytes() == old_bytes
    assert bs.load(path).ok
    if no_leftovers:
        assert sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")) == []


def _child(script: str, *args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=CHILD_ENV,
        **kwargs,
    )


def _wait_for(proc: subprocess.Popen, marker: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if marker in line:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"child never printed {marker!r}: {proc.stderr.read()[-3000:]}")


# ------------------------------------------------------------------ the Python API


def test_save_rejects_a_path_that_is_not_a_file(post, tmp_path):
    with pytest.raises(TypeError, match="path is None"):
        post.save(None)
    with pytest.raises(TypeError, match="must be a file path"):
        post.save(3)
    with pytest.raises(ValueError, match="is empty"):
        post.save("")
    with pytest.raises(ValueError, match="is a folder"):
        post.save(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        post.save(tmp_path / "no" / "such" / "fit.nc")
    post.save(os.devnull)  # discarded, not a crash
    assert list(tmp_path.iterdir()) == []


def test_save_keeps_the_permissions_and_follows_a_link(post, old_file, tmp_path):
    path, _ = old_file
    os.chmod(path, 0o640)
    link = tmp_path / "link.nc"
    link.symlink_to(path)
    post.save(link)
    assert link.is_symlink() and (path.stat().st_mode & 0o777) == 0o640
    assert bs.load(link).ok


@pytest.mark.parametrize(
    "fault",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        KeyboardInterrupt(),
        MemoryError(),
    ],
    ids=["disk-full", "ctrl-c", "memory"],
)
def test_a_failed_write_leaves_the_old_file(post, old_file, monkeypatch, fault):
    path, old = old_file

    def fail(fd):
        raise fault

    monkeypatch.setattr(_files.os, "fsync", fail)
    expected = OSError if isinstance(fault, OSError) else type(fault)
    with pytest.raises(expected) as caught:
        post.save(path)
    if isinstance(fault, OSError):
        assert "the previous file, if any, is unchanged" in str(caught.value)
    monkeypatch.undo()
    _assert_intact(path, old)


def test_a_failed_serialisation_leaves_the_old_file(post, old_file, monkeypatch):
    path, old = old_file

    def fail(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(type(post), "to_arviz", fail)
    with pytest.raises(MemoryError):
        post.save(path)
    monkeypatch.undo()
    _assert_intact(path, old)


def test_nothing_is_replaced_once_interrupted(post, old_file):
    path, old = old_file
    _files.INTERRUPTED.set()
    try:
        with pytest.raises(KeyboardInterrupt):
            post.save(path)
    finally:
        _files.INTERRUPTED.clear()
    _assert_intact(path, old)


def test_figures_are_written_atomically(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    for name, magic in (("f.png", b"\x89PNG"), ("f.svg", b"<?xml"), ("f.pdf", b"%PDF")):
        bs.plot.savefig(fig, tmp_path / name)
        assert (tmp_path / name).read_bytes().startswith(magic)
    bs.plot.savefig(ax, tmp_path / "f.png", dpi=50)  # an Axes saves its figure
    plt.close(fig)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pdf", "f.png", "f.svg"]


# ------------------------------------------------------------------ faults that end a process

SAVE_LOOP = """
    import sys, bayescale as bs
    post = bs.load(sys.argv[1])
    print("loaded", flush=True)
    while True:
        post.save(sys.argv[1])
"""

BLOCKED_FSYNC = """
    import os, sys, time, bayescale as bs
    post = bs.load(sys.argv[1])
    def stuck(fd):
        print("writing", flush=True)
        time.sleep(600)
    os.fsync = stuck
    post.save(sys.argv[1])
"""


def test_sigkill_during_saves_leaves_a_loadable_file(old_file):
    """Killed at a random moment of a loop of saves, and once for sure mid-write (the new
    contents written, not yet synced or renamed): the file loads, as the old one."""
    path, old = old_file
    proc = _child(SAVE_LOOP, path)
    _wait_for(proc, "loaded")
    time.sleep(np.random.default_rng().uniform(0.2, 1.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert bs.load(path).ok  # the old file, or a whole new copy of the same fit
    for leftover in path.parent.glob(".fit.nc.*.tmp"):
        leftover.unlink()  # a kill leaves the temporary file; nothing else
    old = path.read_bytes()
    proc = _child(BLOCKED_FSYNC, path)
    _wait_for(proc, "writing")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    _assert_intact(path, old, no_leftovers=False)


def _limit_file_size():  # runs in the forked child before exec: no imports here
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


FAKE_FIT = """
    import sys, time, bayescale as bs
    from bayescale import _cli
    csv, out, mode = sys.argv[1:4]
    fitted = bs.load(out)
    def fake_fit(*args, **kwargs):
        print("sampling", flush=True)
        if mode == "sleep":
            time.sleep(600)
        return fitted
    bs.fit = fake_fit
    sys.argv = ["bayescale", "fit", csv, "--law", "chinchilla", "--out", out, "--json"]
    sys.exit(_cli.main())
"""


@pytest.mark.parametrize("fault", ["file-size limit", "ctrl-c"])
@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # preexec_fn forks; it only execs
def test_cli_fit_faults_leave_the_old_file(epoch, old_file, fault):
    """`bayescale fit --out` under a file-size limit: one line, exit 2. Ctrl-C while sampling:
    one line "interrupted; nothing written", exit 130. The old file is untouched either way.
    (The fit is stubbed: the faults are about the file, not the sampler.)"""
    path, old = old_file
    csv = path.parent / "runs.csv"
    epoch.to_csv(csv, index=False)
    if fault == "ctrl-c":
        proc = _child(FAKE_FIT, csv, path, "sleep")
        _wait_for(proc, "sampling")
        proc.send_signal(signal.SIGINT)
        expected = EXIT_INTERRUPTED
    else:
        proc = _child(FAKE_FIT, csv, path, "now", preexec_fn=_limit_file_size)
        expected = EXIT_USER_ERROR
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == expected, err[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    if fault == "ctrl-c":
        assert lines[0] == "bayescale fit: interrupted; nothing written"
    else:
        assert "not written (File too large)" in lines[0] and "is unchanged" in lines[0]
    _assert_intact(path, old)


# ------------------------------------------------------------------ Ctrl-C inside the CLI


@pytest.mark.parametrize("swallowed", [False, True], ids=["raised", "swallowed"])
def test_an_interrupted_cli_fit_writes_nothing(
    epoch, post, old_file, monkeypatch, capsys, swallowed
):
    """SIGINT while sampling, also when the KeyboardInterrupt is swallowed (as a JAX callback
    that ignores exceptions does) and the fit goes on to return: exit 130, nothing written."""
    path, old = old_file
    csv = path.parent / "runs.csv"
    epoch.to_csv(csv, index=False)

    def interrupted_fit(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            if not swallowed:
                raise
        return post

    monkeypatch.setattr(bs, "fit", interrupted_fit)
    code = main(["fit", str(csv), "--law", "chinchilla", "--out", str(path), "--json"])
    assert code == EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip() == "bayescale fit: interrupted; nothing written"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    assert not _files.INTERRUPTED.is_set()  # and this process writes files again
    _assert_intact(path, old)


@pytest.mark.slow  # a real fit in a new process (~30 s on 2 cores)
def test_ctrl_c_during_a_real_cli_fit(epoch, old_file, tmp_path):
    """Ctrl-C while NUTS samples (the progress bar is showing): exit 130, one line, --out as it
    was."""
    path, old = old_file
    csv = tmp_path / "runs.csv"
    epoch.to_csv(csv, index=False)
    log = tmp_path / "stderr.txt"
    argv = ["fit", csv, "--law", "chinchilla", "--out", path, "--num-warmup", "5000"]
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bayescale._cli", *map(str, argv)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=CHILD_ENV,
        )
        deadline = time.monotonic() + 240
        while "NUTS" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == EXIT_INTERRUPTED
    assert log.read_text().splitlines()[-1].endswith("bayescale fit: interrupted; nothing written")
    _assert_intact(path, old)
