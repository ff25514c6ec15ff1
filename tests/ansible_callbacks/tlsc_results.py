# A test helper callback: every task result as one JSON line in $TLSC_TEST_RESULTS.
# (ansible-core's own json stdout callback lives in ansible.posix, not on PyPI by itself.)
from __future__ import annotations

DOCUMENTATION = r"""
name: tlsc_results
type: notification
short_description: each task result as a JSON line in $TLSC_TEST_RESULTS (tlsc's tests)
description: Used by tlsc's tests to assert on the module's results.
"""

import json  # noqa: E402 (Ansible: the doc blocks come first)
import os  # noqa: E402 (Ansible: the doc blocks come first)

from ansible.plugins.callback import CallbackBase  # noqa: E402 (Ansible: the doc blocks come first)


class CallbackModule(CallbackBase):
    """Append {"host", "task", "status", "result"} lines to $TLSC_TEST_RESULTS."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "tlsc_results"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, status):
        line = {
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "status": status,
            "result": result._result,
        }
        with open(os.environ["TLSC_TEST_RESULTS"], "a", encoding="utf-8") as f:
            f.write(json.dumps(line, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._write(result, "skipped")
