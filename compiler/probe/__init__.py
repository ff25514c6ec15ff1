"""The live STARTTLS probe behind `tlsc verify` (and, after a restart, `tlsc apply`).

    from compiler.probe import ProbePolicy, host_target, probe
    result = probe(host_target(resolve(cluster, "colo10")))
    if not result.passed(ProbePolicy(strict=True)): print(result.problems())

`probe_all` runs many probes at once and returns results in target order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from compiler.probe.result import ProbePolicy, ProbeResult
from compiler.probe.smtp import ProbeOptions, Target, Timeouts, probe
from compiler.probe.targets import TargetError, adhoc_target, host_target, parse_target

__all__ = [
    "ProbeOptions",
    "ProbePolicy",
    "ProbeResult",
    "Target",
    "TargetError",
    "Timeouts",
    "adhoc_target",
    "host_target",
    "parse_target",
    "probe",
    "probe_all",
]

#: most probes in flight at once
MAX_PARALLEL = 32


def probe_all(
    targets: Sequence[Target],
    options: ProbeOptions | None = None,
    on_result: Callable[[ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Probe every target concurrently; results in the order of `targets`.

    `on_result` is called (from the calling thread) as each probe finishes,
    e.g. to advance a progress bar.
    """
    if not targets:
        return []
    workers = min(MAX_PARALLEL, len(targets))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tlsc-probe") as pool:
        futures = [pool.submit(probe, t, options) for t in targets]
        if on_result is not None:
            for future in as_completed(futures):
                on_result(future.result())
        return [f.result() for f in futures]
