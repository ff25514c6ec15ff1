"""The round trip: compile the imported spec and compare it with what the host has.

* access: both files are read as `makemap hash` reads them (keys folded, the
  first of two equal keys kept) and compared entry by entry. A value tlsc
  spells differently but sendmail reads the same (`relay` -> `RELAY`,
  trailing blanks) is a note; a missing, added or changed entry is a loss,
  and so is a compressed IPv6 key (`IPv6:::1`, which Debian's IPV6_FULL
  sendmail never matches) that the spec writes in the form that matches.
  With `ownership: block` the compiled block is spliced into the original
  file first, as apply does.
* sendmail.cf: the original .mc (its includes pointed into ROOT) and the
  compiled .mc + starttls.m4 are built with the real m4 and cf.m4
  (`m4 -D_NO_MAKEINFO_`), and the two .cf files compared without comment
  and blank lines: every `O` option by name and value, every `K` map by name
  (sendmail declares maps by name, so a K line that only moved is the same),
  and every other line (classes, mailers, rulesets) in order. DontBlameSendmail is compared
  as a set of flags, DaemonPortOptions without blanks after commas, SSL
  options as a list of names: sendmail reads those spellings the same.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from compiler.importer.blame import Cause, Diff
from compiler.importer.notes import Notes, Where
from compiler.importer.read_access import Entry, map_entries
from compiler.lint.lexer import lex
from compiler.m4run import M4Stopped, m4_argv, run_m4, write_prefix
from compiler.plan.ownership import BlockError, splice_block
from compiler.sendmail import names, same_option
from compiler.sendmail.accessmap import canonical_value
from compiler.sendmail.cfread import read_option
from compiler.sendmail.m4text import cf_tree, widen_guard

M4_TIMEOUT = 60
MAX_LINES_REPORTED = 20
_PROTO_OPTION = re.compile(r"^_OPTION\(([^,]+), `([A-Za-z0-9_]+)'", re.MULTILINE)


@dataclass(frozen=True)
class Build:
    """One m4 build: the .cf text and what m4 printed on stderr."""

    rc: int
    cf: str
    stderr: str
    #: m4 was stopped by a limit (time, memory); stderr says which
    stopped: bool = False


# -- access -------------------------------------------------------------------


def access_map(text: str) -> dict[str, Entry]:
    """folded key -> entry, as makemap loads the file."""
    lines = list(enumerate(text.split("\n"), start=1))
    return {e.key.lower(): e for e in map_entries(lines, "access", Notes())}


def _same_meaning(key: str, a: str, b: str) -> bool:
    """True when sendmail reads both values the same for this key's tag."""
    head, sep, _ = key.partition(":")
    from compiler.sendmail.accessmap import TAGS

    tag = next((t for t in TAGS if t.lower() == head.lower()), None) if sep else None
    try:
        return canonical_value(tag, a.strip()) == canonical_value(tag, b.strip())
    except ValueError:
        return a.strip() == b.strip()


def compare_access(
    original: str, compiled: str, block: bool, path: str, notes: Notes, reported: set[int]
) -> int:
    """Report every difference between the two maps; returns the number of keys compared."""
    if block:
        try:
            compiled = splice_block(original, compiled, path).text
        except BlockError as exc:
            notes.loss(Where(path), "I150", str(exc))
            return 0
    before = access_map(original)
    after = access_map(compiled)
    rewritten: set[str] = set()
    for folded, e in before.items():
        at = Where(path, e.line)
        new = after.get(folded)
        full = None if new is not None else _uncompressed_ipv6_key(e.key)
        if full is not None and full.lower() in after and full.lower() not in before:
            rewritten.add(full.lower())
            notes.note(
                at,
                f"I154 {e.key} is written {full}: sendmail (built with IPV6_FULL) compares"
                f" uncompressed IPv6 addresses; before, no entry matched {_ipv6_address(full)}"
                f" this way; now `{full} {e.value.strip()}` does",
            )
        elif new is None:
            if e.line not in reported:
                notes.loss(
                    at,
                    "I151",
                    f"{e.key} {e.value.strip()} is not in the imported spec's access map",
                )
        elif new.value != e.value:
            if _same_meaning(e.key, e.value, new.value):
                if new.value != e.value.rstrip():
                    notes.note(at, f"{e.key}: value written as {new.value!r} (same meaning)")
            else:
                notes.loss(
                    at,
                    "I152",
                    f"{e.key}: the value changes from {e.value.strip()!r} to {new.value!r}",
                )
    for folded, e in after.items():
        if folded not in before and folded not in rewritten:
            notes.loss(
                Where(path),
                "I153",
                f"the imported spec adds the entry {e.key} {e.value} to the access map",
            )
    return len(before)


def _ipv6_address(key: str) -> str:
    """The address of an `IPv6:` key, as a person writes it (`::1`)."""
    import ipaddress

    address = key[key.lower().rindex("ipv6:") + 5 :].removesuffix("]")
    try:
        return str(ipaddress.IPv6Address(address))
    except ValueError:
        return address


def _uncompressed_ipv6_key(key: str) -> str | None:
    """`Connect:IPv6:::1` as tlsc writes it (`Connect:IPv6:0:0:0:0:0:0:0:1`), else None;
    the same inside an address literal (`Connect:[IPv6:::1]`)."""
    head, sep, rest = key.partition(":")
    prefix, address = (
        (f"{head}:", rest) if sep and head.lower() not in ("ipv6", "[ipv6") else ("", key)
    )
    literal = address.startswith("[") and address.endswith("]")
    if literal:
        address = address[1:-1]
    if not address.lower().startswith("ipv6:"):
        return None
    try:
        full = names.parse_ipv6(address)
    except ValueError:
        return None
    full = prefix + (f"[{full}]" if literal else full)
    return full if full.lower() != key.lower() else None


# -- m4 -----------------------------------------------------------------------


def point_includes(mc_text: str, mapper: Callable[[str], str | None]) -> str:
    """The .mc with each include() argument that `mapper` maps replaced by the new path."""
    doc = lex(mc_text, "sendmail.mc", "mc")
    out = mc_text
    pointed: set[str] = set()
    for call in sorted(doc.top_calls("include", "sinclude"), key=lambda c: -c.start):
        if not call.args or not call.closed:
            continue
        new = mapper(doc.first_arg(call))
        if new is not None:
            arg = call.args[0]
            out = out[: arg.start] + f"`{new}'" + out[arg.end :]
            tree = cf_tree(new)
            pointed.add(tree + "/" if tree else os.path.dirname(new) + "/")
    # a tlsc .mc's include guard reads only its managed directories: allow the copies'
    return widen_guard(out, sorted(pointed))


def m4_available(cf_m4: str) -> str | None:
    """None when m4 and cf.m4 are here, else what is missing."""
    if shutil.which("m4") is None:
        return "GNU m4 is not installed"
    if not os.path.exists(cf_m4):
        return f"sendmail-cf is not installed ({cf_m4} is missing)"
    return None


def m4_build(mc_text: str, cf_m4: str | None, workdir: Path) -> Build:
    """Build a .cf as tlsc apply does (`m4 -D_NO_MAKEINFO_`); cf_m4 prepended when given.

    The .mc is the host's, so m4 reads compiler/m4run.py's prefix first: nothing in
    it can run a command, and m4 runs under time and memory limits.
    """
    mc_file = workdir / "build.mc"
    mc_file.write_bytes(mc_text.encode("utf-8", "surrogateescape"))
    argv = m4_argv(write_prefix(workdir)) + ([cf_m4] if cf_m4 else []) + [mc_file.name]
    try:
        proc = run_m4(argv, workdir, None, M4_TIMEOUT)
    except M4Stopped as exc:
        return Build(1, "", str(exc), stopped=True)
    return Build(proc.returncode, _decode(proc.stdout), _decode(proc.stderr))


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _shown(values: list[str] | None) -> str:
    return "not set" if values is None else " and ".join(repr(v) for v in values)


@cache
def proto_options(proto: str = "/usr/share/sendmail/cf/m4/proto.m4") -> dict[str, str]:
    """sendmail option name -> conf macro, from proto.m4's _OPTION lines."""
    try:
        text = Path(proto).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    return {opt.strip(): conf for opt, conf in _PROTO_OPTION.findall(text)}


def _normal_option(name: str, value: str) -> str:
    if name == "DontBlameSendmail":
        return ",".join(sorted({t.lower() for t in re.split(r"[\s,]+", value) if t}))
    if name in ("DaemonPortOptions", "ClientPortOptions"):
        return ",".join(p.strip() for p in value.split(","))
    if name == "TLSSrvOptions":  # readcf.c: letters, blanks and commas ignored
        return "".join(sorted({c for c in value if c not in " \t,"}))
    if name in ("ServerSSLOptions", "ClientSSLOptions"):
        return " ".join(t for t in re.split(r"[\s,]+", value) if t)
    return value


def cf_view(cf: str) -> tuple[dict[str, list[str]], list[tuple[int, str]]]:
    """(option name -> normalised values, other (line number, line)) of a .cf."""
    options: dict[str, list[str]] = {}
    rest: list[tuple[int, str]] = []
    for number, raw in enumerate(cf.split("\n"), start=1):
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        option = read_option(line)
        if option is not None:
            name, value = option
            normal = _normal_option(name, value)
            if name == "TLSSrvOptions" and not normal:
                continue  # no flag: what sendmail does without the option
            options.setdefault(name, []).append(normal)
        else:
            rest.append((number, line))
    return options, rest


_MAP_LINE = re.compile(r"^K\s*(\S+)")


def _split_maps(
    lines: list[tuple[int, str]],
) -> tuple[dict[str, list[tuple[int, str]]], list[tuple[int, str]]]:
    """(map name -> its K lines, the other lines): sendmail declares a map by name,
    wherever its K line stands, so K lines are compared by name, not by position."""
    maps: dict[str, list[tuple[int, str]]] = {}
    rest: list[tuple[int, str]] = []
    for number, text in lines:
        m = _MAP_LINE.match(text)
        if m:
            maps.setdefault(m.group(1), []).append((number, text))
        else:
            rest.append((number, text))
    return maps, rest


def _stderr_lines(text: str) -> set[str]:
    """m4's messages without file:line, and without quotes: sendmail-cf's warnings echo
    an argument as quoted in the .mc (`hash /x' vs ``hash /x''), which m4 reads the same."""
    return {
        re.sub(r"^m4:[^:]*:\d+: ", "", line).replace("`", "").replace("'", "")
        for line in text.splitlines()
        if line.strip()
    }


def cf_lines(cf: str) -> set[str]:
    """The lines of a .cf that are not options, comments or blank (as compare_cf sees them)."""
    return {text for _, text in cf_view(cf)[1]}


def _quoted(diffs: list[Diff]) -> str:
    first = diffs[0]
    more = f" (and {len(diffs) - 1} more)" if len(diffs) > 1 else ""
    if first.missing:
        return f"lacks line {first.number} of the original build, {first.text!r}{more}"
    return f"adds the line {first.text!r}{more}"


def _caused(cause: Cause, diffs: list[Diff]) -> str:
    """One sentence for the differences one line of the .mc causes."""
    changes = " and ".join(
        _quoted(part)
        for part in ([d for d in diffs if d.missing], [d for d in diffs if not d.missing])
        if part
    )
    if cause.how == "late":
        return (
            f"this line comes after the MAILER line {cause.first_mailer}, but the spec writes"
            " it before the MAILER lines, where m4 reads it before they expand, so the"
            f" imported spec's sendmail.cf {changes}; move the line above the MAILER lines"
            " (sendmail.cf then changes the same way) or take it out, and import again"
        )
    return (
        f"the imported spec's sendmail.cf {changes}, which this line of the .mc writes and"
        " the spec does not carry as m4 reads it; correct the line and import again"
    )


def compare_cf(
    original: Build,
    imported: Build,
    mc_path: str,
    locate: Callable[[str], Where | None],
    notes: Notes,
    blame: Callable[[list[Diff]], dict[Diff, Cause]] | None = None,
) -> bool:
    """Report every difference between the two builds; True when they agree.

    `blame` names the .mc line differing .cf lines come from, where that can be
    known (blame.py): one sentence for each such line, none for a line already
    reported lost."""
    mc = Where(mc_path)
    ok = True
    if original.stderr.strip():
        first = original.stderr.strip().splitlines()[0]
        notes.warn(mc, "I160", f"the original .mc does not build cleanly with m4: {first}")
    new_errors = _stderr_lines(imported.stderr) - _stderr_lines(original.stderr)
    for line in sorted(new_errors):
        ok = False
        notes.loss(mc, "I161", f"m4 prints for the imported spec's .mc: {line}")
    before_opts, before_rest = cf_view(original.cf)
    after_opts, after_rest = cf_view(imported.cf)
    conf_of = proto_options()
    # a line already reported lost (I143: a TLS define the spec cannot carry) says why
    # its option differs: one sentence per line
    lost = {(p.path, p.line) for p in notes.losses}
    for name in sorted(set(before_opts) | set(after_opts)):
        a, b = before_opts.get(name), after_opts.get(name)
        if a == b or (
            a is not None
            and b is not None
            and len(a) == len(b)
            and all(same_option(name, x, y) for x, y in zip(a, b, strict=True))
        ):
            continue
        ok = False
        at = locate(conf_of.get(name, "")) or mc
        if at != mc and (at.path, at.line) in lost:
            continue
        notes.loss(
            at,
            "I162",
            f"sendmail.cf option {name}: the original build has {_shown(a)},"
            f" the imported spec gives {_shown(b)}",
        )
    before_maps, before_rest = _split_maps(before_rest)
    after_maps, after_rest = _split_maps(after_rest)
    matcher = difflib.SequenceMatcher(
        a=[t for _, t in before_rest], b=[t for _, t in after_rest], autojunk=False
    )
    missing: list[tuple[int, str]] = []
    added: list[tuple[int, str]] = []
    for name in sorted(set(before_maps) | set(after_maps)):
        old = before_maps.get(name, [])
        new = after_maps.get(name, [])
        if sorted(t for _, t in old) == sorted(t for _, t in new):
            continue
        missing += _unmatched(old, new)
        added += _unmatched(new, old)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            missing += before_rest[i1:i2]
            added += after_rest[j1:j2]
    if missing or added:
        ok = False
    diffs = [Diff(True, n, t) for n, t in missing] + [Diff(False, n, t) for n, t in added]
    causes = blame(diffs) if blame is not None and diffs else {}
    lost = {(p.path, p.line) for p in notes.losses}
    by_line: dict[Cause, list[Diff]] = {}
    for d, cause in causes.items():
        by_line.setdefault(cause, []).append(d)
    for cause, caused in by_line.items():
        if (cause.where.path, cause.where.line) not in lost:  # else already said, once
            code = "I163" if any(d.missing for d in caused) else "I164"
            notes.loss(cause.where, code, _caused(cause, caused))
    missing = [(n, t) for n, t in missing if Diff(True, n, t) not in causes]
    added = [(n, t) for n, t in added if Diff(False, n, t) not in causes]
    lost_here = sorted({p.line for p in notes.losses if p.path == mc_path and p.line > 1})
    if (missing or added) and lost_here:
        # lines no .mc line is known to make, beside lines of the .mc already reported
        # lost (a live `#FEATURE` line): most likely theirs; one sentence, not one a line
        lines = ", ".join(map(str, lost_here))
        notes.loss(
            mc,
            "I163",
            f"{len(missing) + len(added)} more sendmail.cf line(s) differ ({len(missing)}"
            f" missing, {len(added)} added), most likely made by the .mc line(s) reported"
            f" lost ({lines})",
        )
        return ok
    reported = 0
    for number, text in missing:
        reported += 1
        if reported <= MAX_LINES_REPORTED:
            notes.loss(
                mc,
                "I163",
                f"sendmail.cf line {number} of the original build, {text!r},"
                " is missing from the imported spec's build",
            )
    for _, text in added:
        reported += 1
        if reported <= MAX_LINES_REPORTED:
            notes.loss(mc, "I164", f"the imported spec's sendmail.cf adds the line {text!r}")
    if reported > MAX_LINES_REPORTED:
        notes.loss(mc, "I165", f"... and {reported - MAX_LINES_REPORTED} more differing .cf lines")
    return ok


def _unmatched(
    lines: list[tuple[int, str]], others: list[tuple[int, str]]
) -> list[tuple[int, str]]:
    """The lines of `lines` that `others` does not hold (counting repeats), in order."""
    left = [t for _, t in others]
    out = []
    for number, text in lines:
        if text in left:
            left.remove(text)
        else:
            out.append((number, text))
    return out


def build_one(mc_text: str, cf_m4: str | None, root_map: Callable[[str], str | None]) -> Build:
    """Build one .mc (its includes pointed by `root_map`) in a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="tlsc-import-") as tmp:
        return m4_build(point_includes(mc_text, root_map), cf_m4, Path(tmp))


def build_pair(
    original_mc: str,
    original_cf_m4: str | None,
    compiled: dict[str, str],
    mc_path: str,
    starttls_path: str,
    root_map: Callable[[str], str | None],
) -> tuple[Build, Build]:
    """Build the original .mc and the compiled one, each with its own includes."""
    with tempfile.TemporaryDirectory(prefix="tlsc-import-") as tmp:
        work = Path(tmp)
        st = compiled.get(starttls_path)
        st_file = work / "starttls.m4"
        if st is not None:
            st_file.write_text(st, encoding="utf-8")

        def compiled_map(path: str) -> str | None:
            return str(st_file) if path == starttls_path and st is not None else root_map(path)

        original = m4_build(point_includes(original_mc, root_map), original_cf_m4, work)
        if original.stopped:  # the imported spec keeps what stopped m4: not twice
            return original, original
        imported = m4_build(point_includes(compiled[mc_path], compiled_map), None, work)
    return original, imported
