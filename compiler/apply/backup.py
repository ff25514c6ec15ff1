"""The backup of what apply replaces, and putting it back.

A backup is a directory `BASE/<UTC time>/` (BASE: /var/backups/tlsc, under
--root when given) holding each file apply is about to change, at its host
path below `files/`, and `manifest.json`: for each file whether it existed,
its SHA-256, owner, group, mode, extended attributes (its ACL; hex) and
modification time. The manifest is
written last, so a backup without one is incomplete and never restored
from. Only the newest `keep` complete backups are kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from compiler.apply.atomic import FileMeta, Xattrs, fsync_dir, read_xattrs, remove, write_atomic

MANIFEST = "manifest.json"
_STAMP = re.compile(r"^\d{8}T\d{6}\.\d{6}Z(-\d+)?$")


class BackupError(Exception):
    """A backup cannot be made or used; the message is one sentence."""


@dataclass(frozen=True)
class SavedFile:
    """One file as it was before apply touched it."""

    path: str  # the host path
    existed: bool
    sha256: str | None = None
    uid: int = 0
    gid: int = 0
    mode: int = 0
    mtime_ns: int = 0
    xattrs: Xattrs = ()

    @property
    def meta(self) -> FileMeta:
        """What the file is given back with its bytes."""
        return FileMeta(self.uid, self.gid, self.mode, self.xattrs)

    def to_json(self) -> dict[str, object]:
        """The manifest entry."""
        return {
            "path": self.path,
            "existed": self.existed,
            "sha256": self.sha256,
            "uid": self.uid,
            "gid": self.gid,
            "mode": f"{self.mode:04o}",
            "mtime_ns": self.mtime_ns,
            "xattrs": {name: value.hex() for name, value in self.xattrs},
        }


@dataclass(frozen=True)
class Backup:
    """A complete backup directory and what it holds."""

    directory: Path
    files: tuple[SavedFile, ...]

    def stored(self, path: str) -> Path:
        """Where the saved bytes of host path `path` are."""
        return self.directory / "files" / path.lstrip("/")


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S.%fZ")


def _make_dir(base: Path) -> Path:
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = _stamp(dt.datetime.now(dt.UTC))
    for n in range(100):
        candidate = base / (name if n == 0 else f"{name}-{n}")
        try:
            candidate.mkdir(mode=0o700)
            return candidate
        except FileExistsError:
            continue
    raise BackupError(f"cannot make a fresh backup directory under {base}")


def _copy(src: Path, dst: Path) -> str:
    """Copy src to dst with fsync; the SHA-256 of what was copied."""
    dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest = hashlib.sha256()
    # 0600: the copy may hold the access file (Debian: 0640 root:smmsp) or sendmail.cf
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with src.open("rb") as fin, os.fdopen(fd, "wb") as fout:
        while chunk := fin.read(1 << 20):
            digest.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest()


def make_backup(
    base: Path,
    files: Mapping[str, Path],
    about: Mapping[str, object],
    shown: Path | None = None,
    names: Mapping[str, Path] | None = None,
) -> Backup:
    """Save each host path's file (`files`: host path -> where it is on this machine).

    `shown` names `base` in messages, and `names` each file (`base` and `files` may be
    /proc/self/fd paths to them, which tell the person nothing). A backup
    that cannot be finished (a full disk) is taken away again, with the space it took."""
    directory: Path | None = None
    try:
        directory = _make_dir(base)
        saved = []
        for path, on_disk in sorted(files.items()):
            try:
                st = on_disk.stat()
            except FileNotFoundError:
                saved.append(SavedFile(path, False))
                continue
            if not on_disk.is_file():
                name = (names or {}).get(path, on_disk)
                raise BackupError(f"{name} is not a regular file; nothing was changed")
            xattrs = read_xattrs(on_disk)
            sha = _copy(on_disk, directory / "files" / path.lstrip("/"))
            meta = FileMeta.of(st)
            saved.append(
                SavedFile(path, True, sha, meta.uid, meta.gid, meta.mode, st.st_mtime_ns, xattrs)
            )
        manifest = {"version": 1, **about, "files": [f.to_json() for f in saved]}
        write_atomic(directory / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode(), 0o600)
        fsync_dir(directory.parent)
    except OSError as exc:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        raise BackupError(
            f"cannot write the backup under {shown or base}: {exc.strerror or exc};"
            " nothing was changed"
        ) from None
    except BaseException:  # a stop (^C, SIGTERM) while the backup is made: as a failure
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    return Backup(directory, tuple(saved))


class RestoreError(Exception):
    """Some files could not be put back: `failed` (host path, why), the rest were."""

    def __init__(self, failed: list[tuple[str, str]], restored: list[str]):
        paths = ", ".join(path for path, _ in failed)
        super().__init__(f"{paths}: {failed[0][1]}")
        self.failed, self.restored = failed, restored


def restore(backup: Backup, on_disk: Mapping[str, Path]) -> list[str]:
    """Put every saved file back byte for byte (and delete the ones that did not exist).

    Returns the host paths whose bytes were not what the backup holds before
    the restore (the ones actually put back). Raises BackupError when a saved
    copy does not match its manifest hash; RestoreError, once every file was
    tried, naming those the file system refused (the others are back).
    """
    changed: list[str] = []
    failed: list[tuple[str, str]] = []
    for saved in backup.files:
        try:
            if _restore_one(backup, saved, on_disk[saved.path]):
                changed.append(saved.path)
        except OSError as exc:
            failed.append((saved.path, exc.strerror or str(exc)))
    if failed:
        raise RestoreError(failed, changed)
    return changed


def _restore_one(backup: Backup, saved: SavedFile, target: Path) -> bool:
    """Put one saved file back; whether its bytes (or metadata) had to change."""
    if not saved.existed:
        return remove(target)
    data = backup.stored(saved.path).read_bytes()
    if hashlib.sha256(data).hexdigest() != saved.sha256:
        raise BackupError(f"the backup of {saved.path} in {backup.directory} is damaged")
    try:
        current = target.read_bytes()
    except FileNotFoundError:
        current = None
    meta = saved.meta
    if current == data:
        st = target.stat()
        now = FileMeta.of(st, read_xattrs(target))
        if now == meta and st.st_mtime_ns == saved.mtime_ns:
            return False
    write_atomic(target, data, saved.mode, mtime_ns=saved.mtime_ns, meta=meta)
    return True


def load_backup(directory: Path) -> Backup:
    """Read a backup directory's manifest."""
    try:
        doc = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        files = tuple(
            SavedFile(
                f["path"],
                bool(f["existed"]),
                f["sha256"],
                int(f["uid"]),
                int(f["gid"]),
                int(f["mode"], 8),
                int(f["mtime_ns"]),
                # a backup made before tlsc kept extended attributes has none
                tuple(sorted((str(k), bytes.fromhex(v)) for k, v in f.get("xattrs", {}).items())),
            )
            for f in doc["files"]
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{directory} is not a complete tlsc backup ({exc})") from None
    return Backup(directory, files)


#: an incomplete backup (no manifest: its apply was killed while making it) this old is
#: no apply's backup in progress any more
_INCOMPLETE_AGE = 3600


def prune(base: Path, keep: int, made: str | None = None) -> list[Path]:
    """Delete all but the newest `keep` (at least 1) complete backups under `base`, and
    the incomplete ones an apply killed while making its backup left (older than the
    newest complete one and than an hour, so that no backup in progress is touched).

    `made`, the name of the backup this apply made, is kept and counts as the newest,
    whatever it says: backups named by a clock that ran ahead (20991201T...) would else
    outrank it, and the report would name a backup that is gone."""
    try:
        stamped = sorted(p for p in base.iterdir() if _STAMP.match(p.name) and p.is_dir())
    except FileNotFoundError:
        return []
    entries = [p for p in stamped if (p / MANIFEST).is_file()]
    ours = [p for p in entries if p.name == made]
    entries = [p for p in entries if p.name != made] + ours
    old = entries[: max(len(entries) - max(keep, 1), 0)]
    if entries:
        now = dt.datetime.now(dt.UTC).timestamp()
        for p in stamped:
            if p.name < entries[-1].name and p.name != made and not (p / MANIFEST).is_file():
                with contextlib.suppress(OSError):
                    if now - p.stat().st_mtime > _INCOMPLETE_AGE:
                        old.append(p)
    for directory in old:
        shutil.rmtree(directory, ignore_errors=True)
    return old
