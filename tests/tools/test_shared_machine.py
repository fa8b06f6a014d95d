"""tfm on a machine shared with other users: their files in shared places never run, redirect or stop it.

Tests run as root, so "another user" is a file or link chowned to uid 12345, and races are played
out by swapping a link or directory in at the moment tfm would have looked. Each test says which
attack it reproduces; each fails on the code before the fix (a planted file runs, a write lands
outside what the user named, a removal follows a link, or tfm hangs on a FIFO).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import py_compile
import stat
import sys
import tempfile
from pathlib import Path

import pytest

import tfm
from tfm.cli import main
from support import EXAMPLES, STRANGER, run_python, strangers_own

DEMO = str(EXAMPLES / "demo_module.tfm")
BRANCHY = ("module B:\n    fn f(x: f32[]) -> f32[]:\n        if x > 0.0:\n            y = x\n"
           "        else:\n            y = -x\n        return y\n")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not sys.platform.startswith("linux"),
                                reason="plays other users with chown: needs root on Linux")


def _shared_dir(path: Path, sticky: bool = True) -> Path:
    """A directory everyone may write, like /tmp (sticky) or a careless shared folder (not: there the
    kernel's protected_symlinks does not apply, so links are planted there to test tfm's own care)."""
    path.mkdir()
    path.chmod(0o1777 if sticky else 0o777)
    return path


# --- 1. AutoGraph's converted code is written and imported only in a private directory ---------


@pytest.fixture
def shared_tmpdir(tmp_path, monkeypatch):
    """TMPDIR is a shared directory; neither tempfile nor tfm has chosen its directory yet."""
    shared = _shared_dir(tmp_path / "shared")
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.setattr(tempfile, "tempdir", None)
    chooser = sys.modules.get("tfm.loading.tempdir")  # imported with the loader; choose afresh
    if chooser is not None:
        monkeypatch.setattr(chooser, "_ours", None)
    return shared


def test_planted_bytecode_in_a_shared_pycache_never_runs(tmp_path, shared_tmpdir, monkeypatch):
    """Attack: another user owns `$TMPDIR/__pycache__` and plants an unchecked-hash .pyc for the
    module AutoGraph writes there (the name is made predictable here, as a winning race would make
    it); Python's loader runs the planted bytecode as the victim."""
    monkeypatch.setenv("TFM_CACHE_DIR", str(tmp_path / "cache"))
    pwned = tmp_path / "pwned"
    pycache = shared_tmpdir / "__pycache__"
    pycache.mkdir()
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(pwned)!r}, 'w').write('ran')\n")
    planted = importlib.util.cache_from_source(str(shared_tmpdir / "__autograph_generated_fileplanted.py"))
    py_compile.compile(str(evil), planted, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    strangers_own(planted)
    strangers_own(pycache)

    def predictable_names():
        yield "planted"
        yield from tempfile._RandomNameSequence()

    monkeypatch.setattr(tempfile, "_get_candidate_names", predictable_names)
    source = tmp_path / "branchy.tfm"
    source.write_text(BRANCHY)
    module = tfm.load(source)
    try:
        value = float(module.B().f(-2.0))  # AutoGraph converts f here
    finally:
        assert not pwned.exists(), "bytecode planted in the shared temp directory ran"
    assert value == 2.0
    assert not glob.glob(str(shared_tmpdir / "__autograph_generated_file*")), "AutoGraph wrote to the shared TMPDIR"
    private = Path(tempfile.gettempdir())
    # AutoGraph may reuse a conversion made earlier in this process (the suite loads many modules), so
    # ask its writer directly where converted code goes now.
    from tensorflow.python.autograph.pyct import loader as autograph_loader

    _, written = autograph_loader.load_source("converted = True\n", delete_on_exit=True)
    assert Path(written).parent == private, "converted code is not written to the private dir"
    info = private.lstat()
    assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700


def test_cli_commands_that_run_tensorflow_use_the_private_directory(tmp_path, shared_tmpdir, monkeypatch):
    """Attack: as above, through `tfm run`/`devices`/...: the CLI must choose the private directory
    before TensorFlow writes anything."""
    monkeypatch.setenv("TFM_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["devices"]) == 0
    chosen = Path(tempfile.gettempdir())
    assert chosen.parent == tmp_path / "cache" and stat.S_IMODE(chosen.stat().st_mode) == 0o700


def test_no_private_place_is_refused_not_shared(tmp_path, monkeypatch):
    """Attack: the only temp directory is one others can change (writable, not sticky): another user
    could rename tfm's directory and put theirs in its place. tfm refuses rather than use it."""
    from tfm.loading import tempdir

    careless = _shared_dir(tmp_path / "careless", sticky=False)
    monkeypatch.setenv("TFM_CACHE_DIR", str(careless / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(careless))
    with pytest.raises(tempdir.NoPrivateTempdir, match="TFM_CACHE_DIR"):
        tempdir._make_private_tempdir()
    assert list(careless.iterdir()) == [], "something was made in a directory others can change"


# --- 2. the private cache: no stranger's link on the way, entries verified ------------------------


def test_a_strangers_symlink_in_the_cache_path_is_not_followed(tmp_path, monkeypatch):
    """Attack: another user puts a link on the way to the cache (here `tmp/via -> their directory`);
    the old check looked at each parent through the link (os.stat) and found root's directory."""
    from tfm.dsl.cache import private_cache_dir, read_entry, write_entry

    real = tmp_path / "real"
    real.mkdir()
    via = tmp_path / "via"
    via.symlink_to(real)
    strangers_own(via)
    monkeypatch.setenv("TFM_CACHE_DIR", str(via / "cache"))
    assert private_cache_dir() is None
    assert write_entry("x", b"data") is False and read_entry("x") is None
    assert not (real / "cache").exists(), "the cache was made through a stranger's link"


def test_a_link_of_our_own_in_the_cache_path_is_followed(tmp_path, monkeypatch):
    """Not over-strict: a link this user (or root) owns is followed, as the kernel would."""
    from tfm.dsl.cache import private_cache_dir

    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)
    monkeypatch.setenv("TFM_CACHE_DIR", str(tmp_path / "via" / "cache"))
    assert private_cache_dir() is not None and (real / "cache").is_dir()


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TFM_CACHE_DIR", str(cache))
    return cache


def test_cache_entries_round_trip_and_damage_is_refused_then_rebuilt(private_cache):
    """Attack (or accident): a cache entry cut short or altered; it must read as missing, never as
    other bytes, and the next write replaces it."""
    from tfm.dsl.cache import read_entry, write_entry

    assert read_entry("tables") is None
    assert write_entry("tables", b"the payload")
    assert read_entry("tables") == b"the payload"
    stored = private_cache / "tables"
    whole = stored.read_bytes()
    stored.write_bytes(whole[:-3])
    assert read_entry("tables") is None, "a truncated entry was read"
    stored.write_bytes(whole.replace(b"payload", b"paYload"))
    assert read_entry("tables") is None, "an altered entry was read"
    assert write_entry("tables", b"rebuilt") and read_entry("tables") == b"rebuilt"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    with pytest.raises(ValueError):
        write_entry("../escape", b"x")


@pytest.mark.parametrize("plant", ["symlink", "stranger_file", "fifo"])
def test_unsafe_cache_entries_are_not_read(private_cache, tmp_path, plant):
    """Attack: an entry that is a link to another file, a file someone else owns, or a FIFO (which
    would block a reader forever)."""
    from tfm.dsl.cache import read_entry, read_private, write_entry

    assert write_entry("good", b"payload")
    entry = private_cache / "entry"
    if plant == "symlink":
        entry.symlink_to(private_cache / "good")
    elif plant == "stranger_file":
        entry.write_bytes((private_cache / "good").read_bytes())
        strangers_own(entry)
    else:
        os.mkfifo(entry)
    assert read_entry("entry") is None
    assert read_private(entry) is None


# --- 4. writes: no stranger's link followed, no FIFO or device opened, owner and links kept ------


def test_compile_never_follows_a_strangers_directory_link(tmp_path, capsys):
    """Attack: in a shared directory another user makes `build -> /somewhere/of/theirs/choosing`;
    `tfm compile -o shared/build/model.py` must not write there."""
    shared = _shared_dir(tmp_path / "shared", sticky=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    build = shared / "build"
    build.symlink_to(elsewhere)
    strangers_own(build)
    assert main(["compile", DEMO, "-o", str(build / "model.py")]) == 1
    assert "symbolic link owned by another user" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


def test_compile_to_a_fifo_is_refused_without_waiting(tmp_path):
    """Attack: a FIFO planted at the output path; opening it for writing waits for a reader forever."""
    fifo = tmp_path / "model.py"
    os.mkfifo(fifo)
    result = run_python(f"from tfm.cli import main\nraise SystemExit(main(['compile', {DEMO!r}, '-o', {str(fifo)!r}]))",
                        timeout=120)
    assert result.returncode == 1 and "is a FIFO" in result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_run_save_never_replaces_a_link_planted_after_its_check(tmp_path, monkeypatch, capsys):
    """Attack: `run --save shared/out.npz` checks that nothing is there, and before it writes another
    user plants `out.npz` as a link to a file of the victim's; the old write followed the link and
    replaced that file."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = _shared_dir(tmp_path / "shared", sticky=False) / "out.npz"
    source = tmp_path / "double.tfm"
    source.write_text("module D:\n    fn f(x: f32[]) -> f32[]:\n        return x * 2.0\n")
    real_lexists = os.path.lexists

    def look_then_plant(path):
        seen = real_lexists(path)
        if os.fspath(path) == str(out) and not real_lexists(out):
            out.symlink_to(victim)
            strangers_own(out)
        return seen

    monkeypatch.setattr(os.path, "lexists", look_then_plant)
    assert main(["run", str(source), "D.f", "--arg", "x=1.5", "--save", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert victim.read_text() == "precious\n" and out.is_symlink()


@pytest.fixture
def unformatted(tmp_path):
    source = tmp_path / "m.tfm"
    source.write_text("module M:\n    var x: f32[] = 1.0\n    fn get() -> f32[]:\n        return x+x\n")
    return source


def test_fmt_keeps_the_files_owner_and_mode(unformatted):
    """Root formats another user's file: the rewritten file must still be theirs, with their mode
    (the old code replaced it with a root-owned file)."""
    os.chown(unformatted, STRANGER, STRANGER)
    unformatted.chmod(0o640)
    before = unformatted.read_text()
    assert main(["fmt", str(unformatted)]) == 0
    info = unformatted.stat()
    assert unformatted.read_text() != before
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (STRANGER, STRANGER, 0o640)


def test_fmt_refuses_a_hard_linked_file(unformatted, tmp_path, capsys):
    """Replacing a file with several hard links silently splits it from them (the old code did)."""
    other = tmp_path / "other_name.tfm"
    os.link(unformatted, other)
    before = unformatted.read_text()
    assert main(["fmt", str(unformatted)]) == 1
    assert "hard links" in capsys.readouterr().err
    assert unformatted.read_text() == before and os.path.samefile(unformatted, other)


def test_fmt_never_follows_a_link_to_write_elsewhere(unformatted, tmp_path, capsys):
    """Attack: `model.tfm` in a shared directory is a link to a file of the victim's elsewhere;
    `tfm fmt shared/*.tfm` must not rewrite that file."""
    shared = _shared_dir(tmp_path / "shared", sticky=False)
    link = shared / "model.tfm"
    link.symlink_to(unformatted)
    strangers_own(link)
    before = unformatted.read_text()
    assert main(["fmt", str(link)]) == 1
    assert "symbolic link" in capsys.readouterr().err
    assert unformatted.read_text() == before and link.is_symlink()


def test_the_export_lock_file_is_never_a_planted_link(tmp_path):
    """Attack: `.out.tfm-lock` planted as a dangling link: opening it with O_CREAT would create the
    file it names, anywhere the victim can write."""
    from tfm.exports.publish import PublishError, TargetLock

    created = tmp_path / "created_by_victim"
    shared = _shared_dir(tmp_path / "shared", sticky=False)
    (shared / ".out.tfm-lock").symlink_to(created)
    strangers_own(shared / ".out.tfm-lock")
    with pytest.raises(PublishError, match="symbolic link"):
        with TargetLock(shared / "out"):
            pass
    assert not created.exists()


def test_the_export_lock_file_is_never_a_planted_fifo(tmp_path):
    """Attack: `.out.tfm-lock` planted as a FIFO (or anything not a regular file): it is refused
    after a look that opens nothing, never locked or written."""
    from tfm.exports.publish import PublishError, TargetLock

    shared = _shared_dir(tmp_path / "shared", sticky=False)
    os.mkfifo(shared / ".out.tfm-lock")
    strangers_own(shared / ".out.tfm-lock")
    with pytest.raises(PublishError, match="not a regular file"):
        with TargetLock(shared / "out"):
            pass
    assert stat.S_ISFIFO((shared / ".out.tfm-lock").lstat().st_mode)


def test_a_staging_directory_swapped_for_a_link_is_not_written_through(tmp_path):
    """Attack: in a shared (not sticky) directory another user renames tfm's staging directory away
    and puts a link to a directory of their choosing in its place while the export is written."""
    from tfm.exports.publish import ExportDirectory, PublishError

    shared = _shared_dir(tmp_path / "shared", sticky=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(PublishError, match="moved or replaced"):
        with ExportDirectory(shared / "out", force=False) as target:
            (name,) = [p.name for p in shared.iterdir() if p.name.endswith(".staging")]
            os.rename(shared / name, shared / "moved")
            (shared / name).symlink_to(elsewhere)
            (target.staging / "saved_model.pb").write_bytes(b"export")
            target.publish()
    assert list(elsewhere.iterdir()) == [], "the export was written through the swapped-in link"
    assert (shared / "moved" / "saved_model.pb").read_bytes() == b"export"
    assert not (shared / "out").exists()


# --- 5. removing stale temporaries never follows a link swapped in after a look ---------------------


def test_removing_a_stale_temporary_never_follows_a_swapped_in_link(tmp_path, monkeypatch):
    """Attack: a stale `.model.py.tfm-PID-*.tmp` directory (its process gone) is replaced by a link to
    the victim's directory right after tfm first looks at it; the removal must delete the link, not
    the victim's files."""
    from tfm.files import write_atomic

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me\n")
    out_dir = _shared_dir(tmp_path / "out", sticky=False)
    stale = out_dir / ".model.py.tfm-999999999-dead.tmp"
    stale.mkdir()
    (stale / "leftover").write_text("x")
    swapped = []

    def swap_after_first_look(real):
        def wrapper(path, *args, **kwargs):
            try:
                return real(path, *args, **kwargs)
            finally:
                if not swapped and os.fspath(path).endswith(stale.name):
                    swapped.append(True)
                    os.rename(stale, out_dir / "moved-away")
                    stale.symlink_to(victim)
        return wrapper

    for name in ("lstat", "unlink"):
        monkeypatch.setattr(os, name, swap_after_first_look(getattr(os, name)))
    write_atomic(out_dir / "model.py", "# new\n")
    monkeypatch.undo()
    assert swapped, "the stale temporary was never looked at"
    assert (victim / "precious.txt").read_text() == "keep me\n", "the removal followed the swapped-in link"
    assert not os.path.lexists(stale) and (out_dir / "model.py").read_text() == "# new\n"


def test_a_staged_file_is_written_in_its_own_directory_even_if_swapped(tmp_path):
    """Attack: as above for a file written by path (the `.tflite` beside an export): the staging
    directory is renamed away and a link put in its place; the writer still writes into ours."""
    from tfm.files import staged_file

    shared = _shared_dir(tmp_path / "shared", sticky=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with staged_file(shared / "model.tflite") as staged:
        (name,) = [p.name for p in shared.iterdir() if p.name.endswith(".staging")]
        assert stat.S_IMODE((shared / name).stat().st_mode) == 0o700
        os.rename(shared / name, shared / "moved")
        (shared / name).symlink_to(elsewhere)
        staged.path.write_bytes(b"flatbuffer")
        staged.move_into_place()
    assert list(elsewhere.iterdir()) == []
    assert (shared / "model.tflite").read_bytes() == b"flatbuffer"
    assert (shared / name).is_symlink(), "what was swapped in is not ours to remove"
