"""A spec's `access:` entries checked and written in bulk.

parse_entry reads one entry; a cluster's list holds 100,000 or more, nearly
all already in sendmail's canonical form (`Connect:10.1.2.3 REJECT`, the key
and the value as parse_entry would give them back). Those are recognised
with one regular expression over the whole list joined into one text (one C
loop, no object per entry), and written as `KEY<TAB>VALUE` lines in one more
pass; only the others go through parse_entry, one by one. The result, entry
for entry and problem for problem, is parse_entry's (tests/test_accessbulk.py
holds it to that).

canonical() matches an entry only when every check parse_entry makes passes
and gives the text back unchanged: a key that _already_canonical accepts
(a tag of the peer or address kind, or none, with a canonical name), one
blank, and a value of the kinds below written as canonical_value writes it,
in printable ASCII without `#`, `%` or a back-tick. Anything else (a tag of
another kind, an issuer tag, an IPv6 key, a value to fold or to check
further) is left to parse_entry.
"""

from __future__ import annotations

import bisect
import itertools
import re
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from operator import methodcaller
from typing import NoReturn, overload

from compiler.sendmail import SRV_FEATURE_LETTERS
from compiler.sendmail.accessmap import AccessEntry, parse_entry

Loc = tuple[str | int, ...]

# names.CANONICAL_PEER and CANONICAL_RECIPIENT (what parse_peer and
# parse_recipient give back unchanged), written to be read fast in a run: the
# same texts (tests/test_accessbulk.py), each followed by a blank, but with
# possessive runs and the IPv4 form tried first, so nothing is read twice.
#: a label: 1 to 63 of [a-z0-9_-], no hyphen first or last, not IDNA's xn--
_LABEL = r"(?!xn--)(?![a-z0-9_-]{64})[a-z0-9_]++(?:-++[a-z0-9_]++)*+"
#: labels joined by dots, the last one not all digits
_NAME = rf"(?:{_LABEL}\.)*+(?=[0-9]*+[a-z_-]){_LABEL}"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{0,3}}(?=[ \t])"
_PEER = rf"(?:{_IPV4}|{_NAME})"
_ATOM = r"[A-Za-z0-9!$&*+/=?^_{|}~-]++"
_RECIPIENT = rf"(?:{_ATOM}(?:\.{_ATOM})*+@(?:{_NAME})?|{_NAME})"
#: IPv6: as parse_ipv6 writes it: eight groups in lower case without leading zeros
#: (not an IPv4-mapped address, which it refuses), or a prefix of one to seven
_GROUP = r"(?:0|[1-9a-f][0-9a-f]{0,3})"
_MAPPED = rf"0:0:0:0:0:ffff:{_GROUP}:{_GROUP}(?![0-9a-f:])"
_IPV6 = rf"IPv6:(?!{_MAPPED}){_GROUP}(?::{_GROUP}){{0,7}}(?![0-9a-f:])"
#: a peer of a tag that takes one (Connect:, TLS_Srv:, ...)
_TAGGED_PEER = rf"(?:{_PEER}|{_IPV6})"
#: value text: printable ASCII but `#` (a comment after a blank), `%` (a map
#: argument) and the back-tick, which canonical_value refuses or rewrites
_SAFE = r"[ !\"$&-_a-~]"
_ACTION = (
    r"(?:OK|RELAY|REJECT|DISCARD|SKIP"
    rf"|ERROR:(?:\"?[245][0-9][0-9][ \"]|[245]\.[0-9]{{1,3}}\.[0-9]{{1,3}}:[245][0-9][0-9]){_SAFE}*"
    rf"|QUARANTINE:(?! ){_SAFE}+|[245][0-9][0-9] {_SAFE}+)"
)
_INT = r"(?:0|[1-9][0-9]{0,17})"
_REQUIREMENT = r"(?:PERM\+|TEMP\+)?(?:VERIFY(?::[1-9][0-9]{0,3})?|ENCR:[1-9][0-9]{0,3})"
_LETTER = f"[{re.escape(SRV_FEATURE_LETTERS)}]"


#: the longest key _already_canonical accepts
KEY_MAX = 253


def _entry(sep: str, short: bool = False) -> str:
    """The pattern of one canonical entry whose key and value `sep` separates.

    `short`: the text is known to be at most KEY_MAX + 1 characters long, so its key
    is short enough: the pattern leaves out the look-ahead that counts the key's
    characters (a second reading of every key, a third of the time of a long list).
    Every key form below reads only characters other than blanks, tabs and line
    breaks, and a separator must follow it, so that look-ahead asks nothing else.
    """
    return (
        # the key: at most 253 characters, as _already_canonical wants
        ("" if short else rf"(?=[^ \t\n]{{1,{KEY_MAX}}}{sep})") + "(?:"
        rf"(?:Connect:{_TAGGED_PEER}|(?:From|To):{_RECIPIENT}|{_PEER}|{_IPV6}|{_RECIPIENT})"
        rf"{sep}{_ACTION}"
        rf"|Spam:{_RECIPIENT}{sep}(?:FRIEND|HATER)"
        rf"|GreetPause:{_TAGGED_PEER}{sep}{_INT}"
        # looked up by the client's address alone, never by a name
        rf"|(?:ClientRate|ClientConn):(?:{_IPV4}|{_IPV6}){sep}{_INT}"
        rf"|(?:TLS_Srv|TLS_Clt):{_TAGGED_PEER}{sep}{_REQUIREMENT}"
        rf"|TLS_Rcpt:{_RECIPIENT}{sep}{_REQUIREMENT}"
        rf"|Try_TLS:{_TAGGED_PEER}{sep}(?:NO|YES)"
        rf"|Srv_Features:{_TAGGED_PEER}{sep}{_LETTER}(?: {_LETTER})*"
        rf"|QGRP:{_RECIPIENT}{sep}[A-Za-z0-9_.-]+"
        # the value ends in no blank
        r")(?<! )"
    )


_ENTRY = _entry(" ")
#: below this many entries a list is read by parse_entry alone: compiling the big
#: patterns costs more than it saves (5 ms, on every cold `tlsc validate`)
SMALL = 64


def canonical() -> re.Pattern[str]:
    """The pattern of one entry in canonical form (tests/test_accessbulk.py holds it
    to parse_entry), compiled when first asked for."""
    return re.compile(_ENTRY)


_TO_LINE = methodcaller("replace", " ", "\t", 1)
#: the key of each line that ends in \n (its text up to a tab)
_KEYS = re.compile(r"(?m)^([^\t\n]*)[^\n]*\n")
#: entries made into body lines at a time (a block's lines are the only objects per entry)
_BLOCK = 1 << 16
#: characters of the body read at a time (_line_spans)
_KEY_BLOCK = 1 << 20
#: what a block of texts let go of is replaced by (_body_blocks)
_NONES: list[None] = [None] * _BLOCK


class Released(Sequence[str]):
    """The texts of a list of entries once let go of (AccessTexts.release): only their
    number is kept. Reading one is a mistake, and raises (the entries are read from
    the body then)."""

    __slots__ = ("_count",)

    def __init__(self, count: int):
        self._count = count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        raise RuntimeError("the texts of these access entries were let go of once checked")

    def __iter__(self) -> NoReturn:
        raise RuntimeError("the texts of these access entries were let go of once checked")

    def __repr__(self) -> str:
        return f"Released({self._count})"


def _entry_pattern(tag_names: frozenset[str], sep: str = " ", short: bool = False) -> str:
    """canonical()'s pattern for a spec with these issuer tags.

    A key whose head is an issuer tag's name (`localhost` with a tag of that
    name, `IPv6:...` with a tag `IPv6`) makes an issuer tag line to parse_entry:
    never canonical here.
    """
    tags = sorted(tag_names)
    unless = f"(?!(?:{'|'.join(map(re.escape, tags))})[ \t:])" if tags else ""
    return unless + _entry(sep, short)


@dataclass(frozen=True)
class Segment:
    """A list of entries as written and where it is: in the spec, entry i at
    (*loc, i); in an access file the spec names, entry i at (*loc, its line)."""

    texts: Sequence[str]
    loc: Loc  # ("access",), ("hosts", NAME, "access"), or an item's loc + ("file",)
    #: what follows loc for each entry (None: first + its index)
    index_of: Sequence[int] | None = None
    first: int = 0
    #: the blank between key and value in a canonical entry (a file's may be a tab)
    sep: str = " "

    def entry_loc(self, i: int) -> Loc:
        """Where entry `i` is."""
        return (*self.loc, self.first + i if self.index_of is None else self.index_of[i])


class AccessTexts:
    """The entries of one or more `access:` lists, in order, checked once."""

    def __init__(self, segments: Sequence[Segment], tag_names: frozenset[str]):
        self.segments = [s for s in segments if len(s.texts)]
        self.tag_names = tag_names
        #: (loc, message) of each entry parse_entry refuses, in order
        self.problems: list[tuple[Loc, str]] = []
        #: position (over all segments) -> the entry parse_entry gave, for each entry
        #: that is not canonical as written (refused ones are absent)
        self._parsed: dict[int, AccessEntry] = {}
        self._refused: set[int] = set()
        self._released = False
        #: (text, start, length): the body lent to a text that holds it (lend)
        self._lent: tuple[str, int, int] | None = None
        self._check()

    def __len__(self) -> int:
        return sum(len(s.texts) for s in self.segments)

    @property
    def accepted(self) -> int:
        """How many entries parse_entry accepts."""
        return len(self) - len(self._refused)

    def _loc(self, position: int) -> Loc:
        for segment in self.segments:
            if position < len(segment.texts):
                return segment.entry_loc(position)
            position -= len(segment.texts)
        raise IndexError(position)  # pragma: no cover

    def _check(self) -> None:
        offset = 0
        small = len(self) < SMALL
        for segment in self.segments:
            texts = segment.texts
            ask = range(len(texts)) if small else _not_canonical(texts, self.tag_names, segment.sep)
            for i in ask:
                at = offset + i
                try:
                    self._parsed[at] = parse_entry(segment.texts[i], self.tag_names)
                except ValueError as exc:
                    self._refused.add(at)
                    self.problems.append((segment.entry_loc(i), str(exc)))
            offset += len(segment.texts)

    def entries(self) -> Iterator[tuple[AccessEntry, Loc]]:
        """Each entry parse_entry accepts, with its location, in order."""
        if self._released:
            yield from self._entries_from_body()
            return
        at = 0
        for segment in self.segments:
            for i, text in enumerate(segment.texts):
                if at in self._parsed:
                    yield self._parsed[at], segment.entry_loc(i)
                elif at not in self._refused:
                    key, _, value = text.partition(segment.sep)
                    yield AccessEntry(key, value), segment.entry_loc(i)
                at += 1

    def _entries_from_body(self) -> Iterator[tuple[AccessEntry, Loc]]:
        """entries() once the texts are let go of: a canonical entry's line is its text
        with the blank after the key a tab, so the line split at its first tab is the
        text split at that blank (a key holds neither)."""
        lines = _body_lines(self.body)
        at = 0
        for segment in self.segments:
            for i in range(len(segment.texts)):
                if at not in self._refused:
                    line = next(lines)
                    entry = self._parsed.get(at)
                    if entry is None:
                        key, _, value = line.partition("\t")
                        entry = AccessEntry(key, value)
                    yield entry, segment.entry_loc(i)
                at += 1

    def parsed(self) -> Iterator[tuple[AccessEntry, Loc]]:
        """The entries that are not canonical as written, parsed, in order."""
        for at in sorted(self._parsed):
            yield self._parsed[at], self._loc(at)

    @cached_property
    def body(self) -> str:
        """Every accepted entry as a `KEY<TAB>VALUE` line, in order."""
        lent = self._lent
        if lent is not None:
            text, start, length = lent
            return text[start : start + length]
        return "".join(self._body_blocks())

    def _body_blocks(
        self, consumable: Callable[[Sequence[str]], bool] = lambda texts: False
    ) -> list[str]:
        """body in blocks of lines, each ending in a line break (made a block of entries
        at a time: no line object per entry is alive but a block's). The texts of a
        list `consumable` allows are let go of a block at a time as its lines are made."""
        parsed, refused = self._parsed, self._refused
        marks = sorted(parsed.keys() | refused)
        out: list[str] = []
        offset = 0
        for segment in self.segments:
            texts = segment.texts
            consume = isinstance(texts, list) and consumable(texts)
            for start in range(0, len(texts), _BLOCK):
                chunk = texts[start : start + _BLOCK]
                lines = list(chunk if segment.sep == "\t" else map(_TO_LINE, chunk))
                first = offset + start
                lo = bisect.bisect_left(marks, first)
                hi = bisect.bisect_left(marks, first + len(lines))
                for at in reversed(marks[lo:hi]):  # from the last: a deletion moves no other
                    if at in refused:
                        del lines[at - first]
                    else:
                        lines[at - first] = parsed[at].line()
                if lines:
                    out.append("\n".join(lines) + "\n")
                if consume:
                    assert isinstance(texts, list)
                    texts[start : start + len(chunk)] = _NONES[: len(chunk)]
                del chunk, lines
            offset += len(texts)
        return out

    @property
    def released(self) -> bool:
        """True once the texts are let go of (release)."""
        return self._released

    def release(self, consumable: Callable[[Sequence[str]], bool]) -> None:
        """Let go of the entries' texts, which a million entries hold 90 MB of, twice
        the body: the body is made now, and the segments keep only how many texts they
        had; entries() reads the body from then on, and the rest needs no text.

        A list of texts that `consumable` says nothing else holds any more (the
        spec's model has let go of it) is let go of as the body is made, a block at
        a time, so that the texts and the body are never alive together."""
        if "body" not in self.__dict__ and self._lent is None:
            self.__dict__["body"] = "".join(self._body_blocks(consumable))
        self.segments = [replace(s, texts=Released(len(s.texts))) for s in self.segments]
        self._released = True

    def lend(self, text: str, start: int) -> None:
        """The body is text[start:start + len(body)] (a host's access file, joined from
        it, that only this host has): let go of the body's own copy; it is cut from
        `text` again should anything ask for it."""
        body = self.body
        if not text.startswith(body, start):
            raise ValueError("the text lent does not hold the body there")
        del self.__dict__["body"]
        self._lent = (text, start, len(body))

    def folded_keys(self) -> list[str]:
        """The folded key of each accepted entry, in order (for collision checks)."""
        return list(self._folded_keys())

    def _key_blocks(self) -> list[_KeyBlock]:
        body = self.body
        return [_KeyBlock(body, start, end) for start, end in _line_spans(body)]

    def _folded_keys(self) -> Iterator[str]:
        """folded_keys() one block of lines at a time (no lower-case copy of the body,
        no list of every key)."""
        blocks = self._key_blocks()
        return itertools.islice(itertools.chain.from_iterable(blocks), self.accepted)

    def collisions(self, others: Sequence[Sequence[str]]) -> list[bool]:
        """For each list of folded keys in `others`: whether two keys collide among
        these entries' keys and that list's.

        The keys are compared by their hashes first, a block at a time: when no two
        hashes are equal no two keys are, and only a list that shares a hash with
        them has its keys compared. The hashes go into a set in two halves, the first
        half's keys and then the second's, the second's kept as machine words
        meanwhile (a set of a million keys is 100 MB; of all their hashes, 64 MB; of
        half of them, 32).
        """
        blocks = self._key_blocks()
        half = len(blocks) // 2
        hashes: set[int] = set()
        for keys_block in blocks[:half]:
            hashes.update(map(hash, keys_block))
        rest = array("q")
        for keys_block in blocks[half:]:
            rest.extend(map(hash, keys_block))
        total = len(hashes)
        apart = hashes.isdisjoint(rest)
        touched = [not hashes.isdisjoint(map(hash, keys)) for keys in others]
        hashes.clear()
        hashes.update(rest)
        del rest
        total += len(hashes)
        touched = [
            t or not hashes.isdisjoint(map(hash, k)) for t, k in zip(touched, others, strict=True)
        ]
        del hashes
        if not apart or total != self.accepted:  # two keys collide, or two hashes do
            return self._collisions(others, set(self.folded_keys()))
        out: list[bool] = []
        distinct: set[str] | None = None
        for keys, touches in zip(others, touched, strict=True):
            if len(set(keys)) != len(keys):
                out.append(True)
            elif not touches:
                out.append(False)
            else:
                if distinct is None:
                    distinct = set(self.folded_keys())
                out.append(not distinct.isdisjoint(keys))
        return out

    def _collisions(self, others: Sequence[Sequence[str]], distinct: set[str]) -> list[bool]:
        if len(distinct) != self.accepted:
            return [True] * len(others)
        return [len(set(o)) != len(o) or not distinct.isdisjoint(o) for o in others]


class _KeyBlock:
    """The folded keys of the lines body[start:end], read when iterated."""

    def __init__(self, body: str, start: int, end: int):
        self.body, self.start, self.end = body, start, end

    def __iter__(self) -> Iterator[str]:
        return iter(_KEYS.findall(self.body[self.start : self.end].lower()))


def _line_spans(body: str) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive blocks of a body's lines, each _KEY_BLOCK characters
    or a little more, to the end of a line."""
    start = 0
    while start < len(body):
        end = body.find("\n", start + _KEY_BLOCK) + 1 or len(body)
        yield start, end
        start = end


def _body_lines(body: str) -> Iterator[str]:
    """The lines of a body, without their line breaks, cut a block at a time."""
    for start, end in _line_spans(body):
        yield from body[start : end - 1].split("\n")


def _not_canonical(texts: Sequence[str], tag_names: frozenset[str], sep: str = " ") -> list[int]:
    """Indexes of the texts that are not surely canonical entries, in order."""
    short = max(map(len, texts), default=0) <= KEY_MAX + 1
    entry = _entry_pattern(tag_names, sep, short)
    # as many canonical entries as follow each other, each with its newline
    run = re.compile(rf"(?:{entry}\n)*+")
    one: re.Pattern[str] | None = None
    out: list[int] = []
    # a block of texts joined at a time (the whole list joined would be 45 MB more
    # at the peak of a million entries' check)
    for first in range(0, len(texts), _BLOCK):
        chunk = texts[first : first + _BLOCK]
        joined = "\n".join(chunk) + "\n"
        if joined.count("\n") != len(chunk):  # an entry holds a line break: one by one
            one = one or re.compile(entry)
            out += [first + i for i, text in enumerate(chunk) if not one.fullmatch(text)]
        else:
            out += _off_runs(run, joined, first)
    return out


def _off_runs(run: re.Pattern[str], joined: str, first: int) -> list[int]:
    """Indexes (from `first`) of the lines of `joined` that `run` stops at."""
    out: list[int] = []
    pos, index, end = 0, first, len(joined)
    while True:
        stop = run.match(joined, pos).end()  # type: ignore[union-attr]  # never None
        if stop == end:
            return out
        index += joined.count("\n", pos, stop)
        out.append(index)
        pos = joined.index("\n", stop) + 1
        index += 1
        if pos == end:
            return out
