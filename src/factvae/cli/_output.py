"""Where results go: up-front checks of every output, the lock on it, writing by suffix."""

from __future__ import annotations

from pathlib import Path

from ..errors import FactVAEInputError


def _check_output(path: str | Path, overwrite: bool, flag: str = "--out") -> Path:
    path = Path(path)
    if path.exists() and not overwrite:
        raise FactVAEInputError("already exists.", file=str(path), field=flag,
                                fix="choose another path or pass --overwrite.")
    return path


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.stem + ".checkpoint.pt")


class SaveFirst:
    """Between the end of training and the model on disk, SIGINT/SIGTERM are held: the model
    is saved first and the command then stops with a line naming what was saved."""

    _held: dict = {}
    _got: list = []

    @classmethod
    def hold(cls, originals: dict) -> None:
        import signal

        cls._held, cls._got = dict(originals), []
        for sig in originals:
            signal.signal(sig, lambda signum, frame: cls._got.append(signum))

    @classmethod
    def release(cls) -> bool:
        """Restore the handlers; whether a signal came while they were held."""
        import signal

        for sig, h in cls._held.items():
            signal.signal(sig, h)
        got, cls._held, cls._got = bool(cls._got), {}, []
        return got


PICTURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def model_path(out: Path) -> Path:
    return out.with_name(out.stem + ".model.pt")


def _check_outputs(outputs: dict, inputs: list, overwrite: bool, sdata_in=None) -> None:
    """Every output path: new (or --overwrite), not a folder, in a folder we can write, and
    different from every input and from every other output. Checked before any work."""
    import os

    seen = {}
    ins = {Path(p).resolve(): p for p in inputs if p}
    for flag, path in outputs.items():
        if path is None:
            continue
        path = Path(path)
        real = path.resolve()
        store = path.suffix == ".zarr"  # a SpatialData store is a folder
        if store and overwrite and sdata_in and real == Path(sdata_in).resolve():
            seen[real] = flag  # results into the store read from: only its tables are replaced
            continue
        if real in ins:
            raise FactVAEInputError(f"is also the input {ins[real]}; writing it would destroy "
                                    "the input.", file=str(path), field=flag,
                                    fix="choose another output path.")
        if real in seen:
            raise FactVAEInputError(f"is given for both {seen[real]} and {flag}.",
                                    file=str(path), field=flag, fix="give each output its own path.")
        seen[real] = flag
        if path.is_dir() and not store:
            raise FactVAEInputError("is a folder.", file=str(path), field=flag,
                                    fix="give a file name inside it.")
        if path.is_dir() and store and overwrite:
            from ..io._store import is_spatialdata_store

            if not is_spatialdata_store(path):  # --overwrite replaces results, not any folder
                raise FactVAEInputError("is a folder that is not a SpatialData store; "
                                        "--overwrite would delete it.", file=str(path),
                                        field=flag, fix="choose another output path.")
        if path.exists() and not overwrite:
            raise FactVAEInputError("already exists.", file=str(path), field=flag,
                                    fix="choose another path or pass --overwrite.")
        parent = path.parent if str(path.parent) else Path(".")
        probe = parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not os.access(probe, os.W_OK | os.X_OK):
            raise FactVAEInputError(f"cannot be written: {probe} is not writable.",
                                    file=str(path), field=flag, fix="choose a writable folder.")


class OutputLock:
    """An exclusive lock on `OUT.lock` beside an output for the whole command, so a second run
    writing the same output is refused up front instead of training for nothing (fcntl; where
    there is none, no lock)."""

    def __init__(self, out: Path):
        self.path = out.with_name(out.name + ".lock")
        self.fh = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        try:
            self.fh = open(self.path, "a+")
        except OSError:  # no such folder, or not writable: the output checks say so
            return self
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "another process"
            self.fh.close()
            self.fh = None
            raise FactVAEInputError(f"is being written by another factvae command ({holder}).",
                                    file=str(self.path.with_name(self.path.name[:-5])),
                                    field="--out", fix="wait for it to finish, or choose another "
                                    "--out.") from None
        self.fh.seek(0)
        self.fh.truncate()
        import os

        self.fh.write(f"pid {os.getpid()}")
        self.fh.flush()
        return self

    def __exit__(self, *exc):
        if self.fh is not None:
            self.fh.close()
            self.path.unlink(missing_ok=True)
        return False


def _write_table(df, path, overwrite: bool, flag: str) -> None:
    from ..io._write import write_atomically

    path = _check_output(path, overwrite, flag)
    sep = "," if path.suffix == ".csv" else "\t"
    write_atomically(path, lambda tmp: df.to_csv(tmp, sep=sep, index=False), field=flag)
    print(f"table: {path}")
