"""What `tlsc plan` does, without click (compiler/plan/command.py is its command line;
compiler/entry.py runs a plain one without click). Exit codes: see command.py."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from typing import Any, NoReturn

from compiler.cliutil import echo_err


def _fail(message: str) -> NoReturn:
    from compiler.problems import one_line

    echo_err(f"tlsc plan: {one_line(message)}")
    sys.exit(1)


def run_plan(
    spec: str,
    root: str | None,
    state: str | None,
    base: str | None,
    hosts: tuple[str, ...],
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
    fail_on_downgrade: bool,
    logs: tuple[str, ...],
    year: int | None,
    max_deferred: int | None,
) -> NoReturn:
    """Plan SPEC against the hosts' files, print it in FMT, exit as command.py says."""
    from compiler.plan.prefetch import StatePrefetch

    with ExitStack() as stack:
        # the state tree is read and hashed in a thread while the spec loads (plan/prefetch.py)
        ahead = None
        if state is not None and root is None and base is None:
            ahead = stack.enter_context(StatePrefetch(state, hosts))
        from compiler.cliutil import spec_failed
        from compiler.gcpause import gc_importing

        with gc_importing():  # as `tlsc validate` imports (cliutil.run_validate)
            from compiler.plan.make import (
                ObserveError,
                PlanError,
                PlanRequest,
                SpecProblems,
                make_plan,
            )

        if max_deferred is not None and not logs:
            _fail("--max-deferred needs --logs, the mail logs to count the stopped messages in")
        request = PlanRequest(
            spec,
            root=root,
            state=state,
            base=base,
            hosts=list(hosts),
            logs=list(logs),
            year=year,
            ahead=ahead,
        )
        try:
            result = make_plan(request)
        except SpecProblems as exc:
            spec_failed(exc.problems, fmt, f"tlsc plan: {spec} is not valid; nothing was planned")
        except (PlanError, ObserveError) as exc:
            if isinstance(exc, PlanError) and exc.problems is not None:
                spec_failed(exc.problems, fmt, f"tlsc plan: {exc}", listed=False)
            _fail(str(exc))
        if out is not None:
            from compiler.plan.saved import SavedPlanError, write_saved_plan

            try:
                write_saved_plan(result, out, logs)
            except SavedPlanError as exc:
                _fail(str(exc))
        sys.stdout.write(_render(result, fmt))
        if out is not None and fmt == "text":
            echo_err(f"Saved the plan to {out}.")
        failed = False
        if fail_on_downgrade and result.downgrades:
            from compiler.plan.formats.grouping import merged_downgrades

            # counted as the plan shows them: one change on several hosts is one
            merged = merged_downgrades(result.hosts)
            weakened = {h for names, _ in merged for h in names}
            echo_err(
                f"tlsc plan: {len(merged)} change(s) weaken TLS on {len(weakened)} host(s);"
                " failing as --fail-on-downgrade asks",
            )
            failed = True
        over = result.over_deferred(max_deferred) if max_deferred is not None else []
        if over:
            host, worst = over[0]
            more = f" (and {len(over) - 1} more rule(s))" if len(over) > 1 else ""
            echo_err(
                f"tlsc plan: {worst.key} {worst.value} on {host} would have stopped"
                f" {worst.stopped} message(s) in the logs, more than --max-deferred"
                f" {max_deferred}{more}",
            )
            failed = True
        if failed:
            sys.exit(1)
        # what an interrupted apply left undone, or a stale build, counts as a change
        # (--root, P114, P115): apply would act
        from compiler.plan.model import OWED

        pending = any(w.code in OWED for h in result.hosts for w in h.warnings)
        sys.exit(2 if detailed_exitcode and (result.changes or pending) else 0)


def _render(result: Any, fmt: str) -> str:
    if fmt == "json":
        from compiler.plan.formats import json as json_format

        return json_format.render(result)
    if fmt == "markdown":
        from compiler.plan.formats import markdown

        return markdown.render(result)
    from compiler.plan.formats import text

    return text.render(result, color=text.want_color(sys.stdout, os.environ))
