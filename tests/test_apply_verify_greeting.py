"""apply's post-check (compiler/apply/verify.probe_until) against the greetings a
restarted sendmail gives: a 4xx ("421 4.3.2 Connection rate limit exceeded", RefuseLA's
"421 ... too busy, try again later") is asked again until --verify-wait runs out,
as a refused connection is; 220 and a 5xx greeting are final. Fake servers on
127.0.0.1 (tests/fake_smtp.py), on ports the test opened."""

from __future__ import annotations

import pytest
from fake_smtp import FakeSmtp, Session

from compiler.apply.verify import Expectation, probe_until
from compiler.probe import Target

BUSY = [
    "421 4.3.2 Connection rate limit exceeded.",
    "421 4.3.2 h1.example.net Too many load average, try again later",
    "450 4.7.1 not now",
]


def _script(first: str, times: int):  # type: ignore[no-untyped-def]
    def play(session: Session) -> None:
        if session_no[0] < times:
            session_no[0] += 1
            session.send(first + "\n")
            return
        session.send("220 h1.example.net ESMTP\n")
        session.expect("EHLO ")
        session.send("250-h1.example.net\n250 PIPELINING\n")
        session.expect("QUIT")
        session.send("221 2.0.0 bye\n")

    session_no = [0]
    return play


@pytest.mark.parametrize("greeting", BUSY)
def test_a_busy_greeting_after_the_restart_is_asked_again(greeting: str) -> None:
    with FakeSmtp(_script(greeting, 2)) as server:
        result, failure = probe_until(
            Target("h1", "127.0.0.1", server.port), Expectation(tls=False), 10.0
        )
    assert failure is None, failure
    assert server.sessions == 3
    assert result.greeting is not None and result.greeting.startswith("220")


@pytest.mark.parametrize("greeting", BUSY)
def test_a_busy_greeting_that_stays_fails_when_the_wait_is_over(greeting: str) -> None:
    with FakeSmtp(_script(greeting, 10**6)) as server:
        result, failure = probe_until(
            Target("h1", "127.0.0.1", server.port), Expectation(tls=False), 0.6
        )
    assert failure is not None
    assert server.sessions >= 2
    assert result.greeting == greeting


@pytest.mark.parametrize("greeting", ["554 5.3.2 h1 not accepting mail", "554 no SMTP service"])
def test_a_refusing_greeting_is_final(greeting: str) -> None:
    with FakeSmtp(_script(greeting, 10**6)) as server:
        _, failure = probe_until(
            Target("h1", "127.0.0.1", server.port), Expectation(tls=False), 5.0
        )
    assert failure is not None
    assert server.sessions == 1
