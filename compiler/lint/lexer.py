"""An m4 lexer with positions, for sendmail `.mc` and `.m4` files.

It reads a file the way GNU m4 does, without expanding anything: the quote
pair `` ` `` / `'` with nesting, `dnl` to the end of the line, `#` comments
while they are live (in a `.mc` until `cf.m4` is included, whose cfhead.m4
calls `changecom()`; never in a `.m4`, which is included after cf.m4), macro
calls with their arguments, `divert`, and `changequote` (after which it stops
guessing). The result, an `M4Document`, holds every call, every top-level
quote and every lexical irregularity as an `Event` with its offset; the lint
rules read it and never scan characters themselves.

Where m4 would go on reading a mistake its own way, the lexer recovers the
way the writer meant: an apostrophe or a typographic quote that opens an
argument (`define('confX', ...)`, `define(‘confX’, ...)`) is read as the
back-tick it stands for, so one slip gives one finding, not a cascade.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from compiler.lint.source import SourceText
from compiler.sendmail.m4names import (
    BUILTINS,
    BUILTINS_BARE,
    BUILTINS_WITH_ARGS,
    CF_MACROS,
    SECTION_MACROS,
    TYPO_CLOSERS,
    TYPO_EITHER,
    TYPO_OPENERS,
    TYPO_QUOTES,
)

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLANKS = re.compile(r"[ \t\r\f\v]+")
_IN_QUOTE = re.compile("[`'\n()" + TYPO_QUOTES + "]")
_ENDS_ARG = ",)\n\r \t"  # after a quote character: it closes, it does not open


@dataclass
class Quote:
    """A quoted string at the top level: from its opener to just after its closer."""

    start: int
    end: int
    closed: bool = True


@dataclass
class Arg:
    """One argument of a macro call: the text between `(`/`,` and `,`/`)`."""

    start: int
    end: int
    quotes: list[Quote] = field(default_factory=list)


@dataclass
class Call:
    """A macro call. `paren` is None for a call without arguments."""

    name: str
    start: int
    paren: int | None
    end: int
    closed: bool
    args: list[Arg]
    parent: Call | None
    diversion: int
    comments: bool
    hash_line: bool = False
    in_quotes: bool = False
    detached: bool = False  # `NAME (...)`: m4 calls NAME bare and copies (...) as text
    diversion_after: int = 0


@dataclass
class Event:
    """Something irregular the lexer met; rules turn events into findings.

    kinds: typo (role opener/closer/text), apostrophe-open, stray-close,
    open-across-line, unclosed-quote, unclosed-call, dnl-in-args,
    stray-paren, changequote. `context` is args (inside a call's
    arguments), hash (a live `#` line) or top; `ref` an offset the event
    points back to (the closer that finally ends a quote, the apostrophe
    that ended a quote too early), -1 for none.
    """

    kind: str
    start: int
    char: str = ""
    role: str = ""
    context: str = "top"
    ref: int = -1


@dataclass
class Word:
    """An unquoted word that is not a macro call."""

    start: int
    text: str
    hash_line: bool
    paren_follows: bool


@dataclass
class _Open:
    start: int
    line_start: int
    typo: bool = False
    arg_open: bool = False
    paren: int = 0
    suspicious: bool = False
    reported: bool = False
    event: Event | None = None


@dataclass
class _OpenCall:
    call: Call
    level: int = 0
    at_arg_start: bool = True
    dnl_seen: bool = False


class M4Document(SourceText):
    """A lexed m4 file: calls, quotes, comments and events, with line/column lookup."""

    def __init__(self, text: str, path: str = "-", kind: str = "mc") -> None:
        super().__init__(text, path, kind)
        self.calls: list[Call] = []
        self.quotes: list[Quote] = []
        self.events: list[Event] = []
        self.words: list[Word] = []
        self.dnl: list[tuple[int, int]] = []
        self.comments: list[tuple[int, int]] = []
        self.hash_lines: set[int] = set()
        self.cf_m4_at: int | None = None
        self.stopped_at: int | None = None
        self._deep: list[Call] | None = None
        #: (start, end) of an argument -> its value; every rule asks for the same ones
        self._values: dict[tuple[int, int], str] = {}

    # -- arguments ---------------------------------------------------------

    def arg_text(self, arg: Arg) -> str:
        """An argument as m4 collects it (dnl'd text removed), without surrounding blanks."""
        return self._without_dnl(arg.start, arg.end).strip(" \t\r\n")

    def arg_offset(self, arg: Arg) -> int:
        """The offset of an argument's first character after the blanks m4 skips."""
        i = arg.start
        while i < arg.end and self.text[i] in " \t\r\n":
            i += 1
        return i

    def value_offset(self, arg: Arg) -> int:
        """The offset of an argument's value, after its opening quotes."""
        i = self.arg_offset(arg)
        while i < arg.end and self.text[i] == "`":
            i += 1
        return i

    def _without_dnl(self, start: int, end: int) -> str:
        k = bisect.bisect_left(self.dnl, (start, -1))
        out = []
        pos = start
        while k < len(self.dnl) and self.dnl[k][0] < end:
            out.append(self.text[pos : self.dnl[k][0]])
            pos = min(self.dnl[k][1], end)
            k += 1
        out.append(self.text[pos:end])
        return "".join(out)

    def diversion_at(self, offset: int) -> int:
        """The m4 diversion in force at `offset` (-1: output discarded)."""
        diversion = 0
        for call in self.calls:
            if call.end > offset:
                break
            if call.parent is None and call.closed:
                diversion = call.diversion_after
        return diversion

    def arg_quoted(self, arg: Arg) -> bool:
        """True when the argument is one quoted string and nothing else."""
        text = self.arg_text(arg)
        return len(arg.quotes) == 1 and arg.quotes[0].closed and text == self._quote_text(arg)

    def _quote_text(self, arg: Arg) -> str:
        q = arg.quotes[0]
        return self.text[q.start : q.end]

    def arg_value(self, arg: Arg) -> str:
        """The argument with every enclosing quote level removed (``x'' -> x)."""
        key = (arg.start, arg.end)
        found = self._values.get(key)
        if found is not None:
            return found
        text = self.arg_text(arg)
        while len(text) >= 2 and text[0] == "`" and text[-1] == "'" and _one_string(text):
            text = text[1:-1]
        self._values[key] = text
        return text

    # -- calls -------------------------------------------------------------

    def top_calls(self, *names: str) -> list[Call]:
        """Statement calls: not nested, not detached, not inside a live `#` line."""
        return [
            c
            for c in self.calls
            if c.parent is None
            and not c.hash_line
            and not c.detached
            and (not names or c.name in names)
        ]

    def first_arg(self, call: Call) -> str:
        """The first argument's value, quotes removed ('' when there is none)."""
        return self.arg_value(call.args[0]) if call.args else ""

    def all_calls(self) -> list[Call]:
        """Every call, also those inside the quoted branches of ifdef and ifelse."""
        if self._deep is None:
            found: list[Call] = []
            for call in self.calls:
                found.append(call)
                found.extend(self._calls_in_branches(call, 0))
            found.sort(key=lambda c: c.start)
            self._deep = found
        return self._deep

    def includes(self) -> list[tuple[Call, str]]:
        """(call, its argument) of each include and sinclude m4 runs, in order: also those
        in ifdef/ifelse branches, not those on a live `#` line, not one left unclosed
        (m4 stops at its end of file without running it) nor one of an empty name."""
        out = []
        for c in self.all_calls():
            if c.name in ("include", "sinclude") and c.args and c.closed and not c.hash_line:
                target = self.first_arg(c)
                if target:
                    out.append((c, target))
        return out

    def quoted_calls(self) -> list[Call]:
        """Every call, also those in a quoted argument of any call: a macro's body
        (`define(`TLS_ON', `define(`confCACERT', ...)')`) runs where the macro is
        called, which a reader of the file cannot tell from the define alone."""
        found: list[Call] = []
        for call in self.calls:
            found.append(call)
            found.extend(self._calls_in_branches(call, 0, every=True))
        return sorted({c.start: c for c in found}.values(), key=lambda c: c.start)

    def _calls_in_branches(self, call: Call, depth: int, every: bool = False) -> list[Call]:
        if (not every and call.name not in ("ifdef", "ifelse")) or depth > 8:
            return []
        out: list[Call] = []
        for arg in call.args if every else call.args[1:]:
            for q in arg.quotes:
                if not q.closed:
                    continue
                sub = _Scanner(self, q.start + 1, q.end - 1, call.comments, quiet=True)
                sub.diversion = call.diversion
                sub.run()
                for inner in sub.found:
                    inner.in_quotes = True
                    out.append(inner)
                    out.extend(self._calls_in_branches(inner, depth + 1, every))
        return out


def _one_string(text: str) -> bool:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "`":
            depth += 1
        elif ch == "'":
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return False
    return depth == 0


def lex(text: str, path: str = "-", kind: str = "mc") -> M4Document:
    """Lex an m4 file.

    In a `.mc` that includes cf.m4 itself (Debian's way), `#` starts a comment
    until that include; a `.mc` that does not is built as `m4 cf.m4 FILE.mc`,
    and a `.m4` is included after cf.m4, so in those `#` is never a comment.
    """
    doc = _lex(text, path, kind, comments=(kind == "mc"))
    if kind == "mc" and doc.cf_m4_at is None:
        doc = _lex(text, path, kind, comments=False)
    return doc


def _lex(text: str, path: str, kind: str, comments: bool) -> M4Document:
    doc = M4Document(text, path, kind)
    scanner = _Scanner(doc, 0, len(text), comments=comments)
    scanner.run()
    doc.calls = scanner.found
    return doc


class _Scanner:
    """One pass over text[start:end], filling the document (or, quiet, only `found`)."""

    def __init__(
        self, doc: M4Document, start: int, end: int, comments: bool, quiet: bool = False
    ) -> None:
        self.doc = doc
        self.text = doc.text
        self.i = start
        self.end = end
        self.quiet = quiet
        self.comment = "#" if comments else ""
        self.diversion = 0
        self.defined: set[str] = set()
        self.found: list[Call] = []
        self.calls: list[_OpenCall] = []
        self.quotes: list[_Open] = []
        self.line_start = doc.text.rfind("\n", 0, start) + 1
        self.hash_until = -1  # end of the live '#' line being read
        self.last_quote: Quote | None = None
        self.last_quote_clean = False
        self.typo_text: list[Event] = []  # typographic quotes read as plain text

    # -- helpers -----------------------------------------------------------

    def _event(self, event: Event) -> Event:
        if not self.quiet:
            self.doc.events.append(event)
        return event

    def _context(self) -> str:
        if self.calls:
            return "args"
        return "hash" if self.i < self.hash_until else "top"

    def _next_char(self, j: int) -> str:
        return self.text[j] if j < self.end else ""

    def _not_argument_start(self) -> None:
        if self.calls:
            self.calls[-1].at_arg_start = False

    def _structural(self) -> None:
        self.last_quote_clean = False

    # -- main loop ---------------------------------------------------------

    def run(self) -> None:
        text = self.text
        while self.i < self.end:
            if self.quotes:
                self._in_quote()
                continue
            ch = text[self.i]
            if ch == "\n":
                self._newline()
            elif ch in " \t\r\f\v":
                m = _BLANKS.match(text, self.i, self.end)
                self.i = m.end() if m else self.i + 1
            elif (ch.isalpha() and ch.isascii()) or ch == "_":
                self._word()
            elif self.comment and text.startswith(self.comment, self.i):
                self._comment()
            elif ch == "#":
                self._live_hash()
            elif ch == "`":
                self._open_quote(self.i, typo=False)
                self.i += 1
            elif ch == "'":
                self._apostrophe()
            elif ch in TYPO_QUOTES:
                self._typo_top(ch)
            elif ch == "(":
                self._open_paren()
            elif ch == ")":
                self._close_paren()
            elif ch == ",":
                self._comma()
            else:
                self._not_argument_start()
                self.i += 1
            if self.doc.stopped_at is not None and not self.quiet:
                return
        self._finish()

    def _newline(self) -> None:
        self.i += 1
        self.line_start = self.i
        self._structural()
        self.last_quote = None

    def _comment(self) -> None:
        end = self.text.find("\n", self.i, self.end)
        end = self.end if end < 0 else end + 1
        if not self.quiet:
            self.doc.comments.append((self.i, end))
        self._not_argument_start()
        self.i = end
        self.line_start = end

    def _live_hash(self) -> None:
        if self.text[self.line_start : self.i].strip() == "" and not self.calls:
            self.hash_until = self.doc.line_end(self.i)
            if not self.quiet:
                self.doc.hash_lines.add(self.doc.line_of(self.i))
        self._not_argument_start()
        self.i += 1

    # -- quotes ------------------------------------------------------------

    def _open_quote(self, at: int, typo: bool) -> None:
        arg_open = bool(self.calls) and self.calls[-1].at_arg_start
        self._not_argument_start()
        self.quotes.append(_Open(at, self.line_start, typo=typo, arg_open=arg_open))

    def _close_quote(self) -> None:
        entry = self.quotes.pop()
        if entry.event is not None:
            entry.event.ref = self.i
        self.i += 1
        if not self.quotes:
            quote = Quote(entry.start, self.i)
            self._add_quote(quote)

    def _add_quote(self, quote: Quote) -> None:
        if not self.quiet:
            self.doc.quotes.append(quote)
        if self.calls:
            call = self.calls[-1].call
            call.args[-1].quotes.append(quote)
        self.last_quote = quote
        self.last_quote_clean = True

    def _in_quote(self) -> None:
        text = self.text
        m = _IN_QUOTE.search(text, self.i, self.end)
        if m is None:
            self.i = self.end
            return
        self.i = m.start()
        ch = m.group()
        top = self.quotes[-1]
        nxt = self._next_char(self.i + 1)
        if ch == "`":
            self.quotes.append(_Open(self.i, self.line_start))
            self.i += 1
        elif ch == "'":
            if top.arg_open and self.i == top.start + 1 and nxt and nxt not in _ENDS_ARG + "'`":
                # `'value'': the inner quote of ``value'' opened with an apostrophe
                self._event(Event("apostrophe-open", self.i, "'", "opener", "args"))
                self.quotes.append(_Open(self.i, self.line_start))
                self.i += 1
            else:
                self._close_quote()
        elif ch == "\n":
            self._quote_newline()
        elif ch == "(":
            top.paren += 1
            self.i += 1
        elif ch == ")":
            top.paren -= 1
            if top.paren < 0:
                top.suspicious = True
            self.i += 1
        else:
            self._typo_in_quote(ch, top, nxt)

    def _quote_newline(self) -> None:
        for entry in self.quotes:
            if entry.line_start == self.line_start and entry.suspicious and not entry.reported:
                entry.event = self._event(Event("open-across-line", entry.start, "", "", "top"))
                for other in self.quotes:
                    other.reported = True
                break
        self.i += 1
        self.line_start = self.i

    def _typo_in_quote(self, ch: str, top: _Open, nxt: str) -> None:
        at_start = self.i == top.start + 1 and bool(nxt) and nxt not in _ENDS_ARG + "'`"
        if top.typo and ch in TYPO_CLOSERS + TYPO_EITHER:
            self._event(Event("typo", self.i, ch, "closer", self._context()))
            self._close_quote()
            return
        if ch in TYPO_EITHER and not at_start and (not nxt or nxt in _ENDS_ARG):
            self._event(Event("typo", self.i, ch, "closer", self._context()))
            self._close_quote()
            return
        if at_start and ch in TYPO_OPENERS + TYPO_EITHER:
            self._event(Event("typo", self.i, ch, "opener", self._context()))
            self.quotes.append(_Open(self.i, self.line_start, typo=True))
            self.i += 1
            return
        event = self._event(Event("typo", self.i, ch, "text", self._context()))
        if ch in TYPO_OPENERS + TYPO_EITHER:
            self.typo_text.append(event)
        self.i += 1

    def _typo_top(self, ch: str) -> None:
        nxt = self._next_char(self.i + 1)
        at_arg = bool(self.calls) and self.calls[-1].at_arg_start
        opener = ch in TYPO_OPENERS + TYPO_EITHER or (at_arg and bool(nxt) and nxt not in _ENDS_ARG)
        self._event(Event("typo", self.i, ch, "opener" if opener else "text", self._context()))
        if opener:
            self._open_quote(self.i, typo=True)
        else:
            self._not_argument_start()
        self.i += 1

    def _apostrophe(self) -> None:
        nxt = self._next_char(self.i + 1)
        call = self.calls[-1] if self.calls else None
        if call is not None and call.at_arg_start and nxt and nxt not in ",)\n'":
            self._event(Event("apostrophe-open", self.i, "'", "opener", "args"))
            self._open_quote(self.i, typo=False)
            self.i += 1
            return
        quote = self.last_quote if self.last_quote_clean else None
        if quote is not None:
            inside = [e for e in self.typo_text if quote.start < e.start < quote.end]
            if inside:
                # `‘value'': the typographic quote opened a nested quote after all
                inside[-1].role = "opener"
                self.i += 1
                return
        ref = -1
        if quote is not None and quote.end < self.end:
            after = self.text[quote.end]
            if after.isalnum() or after == "_":
                ref = quote.end - 1
        self._event(Event("stray-close", self.i, "'", "", self._context(), ref))
        self._not_argument_start()
        self.i += 1

    # -- words and calls ---------------------------------------------------

    def _word(self) -> None:
        text = self.text
        m = _WORD.match(text, self.i, self.end)
        assert m is not None
        word, j = m.group(), m.end()
        if word == "dnl" and not (j < self.end and self.text[j] == "("):
            self._dnl(j)
            return
        paren = j < self.end and text[j] == "("
        known = word in BUILTINS or word in CF_MACROS or word in self.defined
        if known and paren:
            self._start_call(word, self.i, j)
            return
        if known and self._detached(word, j):
            return
        if known and word not in BUILTINS_WITH_ARGS:
            self._bare_call(word, j)
            return
        if not self.quiet:
            self.doc.words.append(Word(self.i, word, self.i < self.hash_until, paren))
        self._not_argument_start()
        self.i = j

    def _dnl(self, j: int) -> None:
        end = self.text.find("\n", j, self.end)
        end = self.end if end < 0 else end + 1
        if self.calls and not self.calls[-1].at_arg_start and not self.calls[0].dnl_seen:
            self.calls[0].dnl_seen = True  # one report per statement: the first is the cause
            name = self.calls[-1].call.name
            self._event(Event("dnl-in-args", self.i, name, "", "args"))
        if not self.quiet:
            self.doc.dnl.append((self.i, end))
        self.i = end
        self.line_start = end
        self._structural()

    def _new_call(self, name: str, start: int, paren: int | None, end: int) -> Call:
        parent = self.calls[-1].call if self.calls else None
        call = Call(
            name=name,
            start=start,
            paren=paren,
            end=end,
            closed=paren is None,
            args=[],
            parent=parent,
            diversion=self.diversion,
            comments=bool(self.comment),
            hash_line=start < self.hash_until,
        )
        self.found.append(call)
        return call

    def _start_call(self, name: str, start: int, paren: int) -> Call:
        self._not_argument_start()
        call = self._new_call(name, start, paren, self.end)
        call.args.append(Arg(paren + 1, paren + 1))
        self.calls.append(_OpenCall(call))
        self._structural()
        self.i = paren + 1
        return call

    def _detached(self, name: str, j: int) -> bool:
        """`FEATURE (...)`: m4 calls FEATURE bare (or, for define, not at all).

        The parenthesised text is kept together as a detached call, so the
        rules see what was meant and nothing cascades from it.
        """
        m = _BLANKS.match(self.text, j, self.end)
        if not m or m.end() >= self.end or self.text[m.end()] != "(" or name in BUILTINS_BARE:
            return False
        call = self._start_call(name, self.i, m.end())
        call.detached = True
        return True

    def _bare_call(self, name: str, j: int) -> None:
        self._not_argument_start()
        call = self._new_call(name, self.i, None, j)
        self._effects(call)
        call.diversion_after = self.diversion
        self._structural()
        self.i = j

    def _open_paren(self) -> None:
        if self.calls:
            self.calls[-1].level += 1
        self._not_argument_start()
        self._structural()
        self.i += 1

    def _comma(self) -> None:
        if self.calls and self.calls[-1].level == 0:
            top = self.calls[-1]
            top.call.args[-1].end = self.i
            top.call.args.append(Arg(self.i + 1, self.i + 1))
            top.at_arg_start = True
        else:
            self._not_argument_start()
        self._structural()
        self.i += 1

    def _close_paren(self) -> None:
        self._structural()
        if not self.calls:
            self._event(Event("stray-paren", self.i, ")", "", self._context()))
            self.i += 1
            return
        top = self.calls[-1]
        if top.level > 0:
            top.level -= 1
            top.at_arg_start = False
            self.i += 1
            return
        self.calls.pop()
        call = top.call
        call.args[-1].end = self.i
        self.i += 1
        call.end = self.i
        call.closed = True
        if not call.detached:
            self._effects(call)
        call.diversion_after = self.diversion
        self._not_argument_start()
        if call.name == "dnl":  # dnl(...) collects its arguments, then discards the line
            self._dnl(self.i)

    def _effects(self, call: Call) -> None:
        """What a call changes for the rest of the file: names, comments, diversion."""
        name = call.name
        first = self.doc.arg_value(call.args[0]) if call.args else ""
        if name in ("define", "pushdef") and _WORD.fullmatch(first):
            self.defined.add(first)
        elif name in ("include", "sinclude") and first.rsplit("/", 1)[-1] == "cf.m4":
            self.comment = ""
            self.diversion = 0  # cf.m4 ends in divert(0)dnl, whatever came before it
            if self.doc.cf_m4_at is None and not self.quiet:
                self.doc.cf_m4_at = call.start
        elif name == "divert":
            try:
                self.diversion = int(first) if call.args else 0
            except ValueError:
                self.diversion = 0
        elif name in SECTION_MACROS:
            self.diversion = 1
        elif name == "changecom":
            self._changecom(call)
        elif name == "changequote":
            self._changequote(call)

    def _changecom(self, call: Call) -> None:
        values = [self.doc.arg_value(a) for a in call.args]
        start = values[0] if values else ""
        end = values[1] if len(values) > 1 else "\n"
        if not start:
            self.comment = ""
        elif end in ("\n", ""):
            self.comment = start
        else:
            self._stop(call)

    def _changequote(self, call: Call) -> None:
        values = [self.doc.arg_value(a) for a in call.args]
        if values in ([], ["`", "'"]):
            return
        self._stop(call)

    def _stop(self, call: Call) -> None:
        if self.quiet:
            return
        self._event(Event("changequote", call.start, call.name))
        self.doc.stopped_at = call.start

    # -- end of input ------------------------------------------------------

    def _finish(self) -> None:
        if self.quiet or self.doc.stopped_at is not None:
            return
        if self.quotes and not any(q.reported for q in self.quotes):
            bottom = self.quotes[0]
            self._event(Event("unclosed-quote", bottom.start))
        if self.quotes:
            self._add_unclosed(self.quotes[0])
        if self.calls:
            outer = self.calls[0].call
            self._event(Event("unclosed-call", outer.paren or outer.start, outer.name))
            for open_call in self.calls:
                open_call.call.args[-1].end = self.end
                open_call.call.end = self.end

    def _add_unclosed(self, entry: _Open) -> None:
        quote = Quote(entry.start, self.end, closed=False)
        self.doc.quotes.append(quote)
        if self.calls:
            self.calls[-1].call.args[-1].quotes.append(quote)
