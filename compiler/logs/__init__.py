"""STARTTLS log analysis behind `tlsc logs`: sendmail's syslog lines in, records and a summary out.

    from compiler.logs import LogParser, Summary
    parser = LogParser()
    for line in lines:                    # str lines of one syslog file, in order
        for record in parser.feed(line):  # TlsRecord: a handshake or a STARTTLS error
            ...
    for record in parser.flush(): ...     # records still waiting for their cert line

`parser.feed_entries` gives refusals (RulesetEvent) and notices in the same
ordered stream. `tlsc logs` itself reads with compiler/logs/workers.py
(`scan_files`) and compiler/logs/scan.py, which give the same as LogParser
from blocks of lines, in several processes.

The package imports neither pydantic nor ruamel.yaml: `tlsc logs` streams
millions of lines and starts fast.
"""

from __future__ import annotations

from compiler.logs.parse import LogParser, RulesetEvent, TlsRecord, parse_message
from compiler.logs.summary import Summary
from compiler.logs.syslog import SyslogLine, split_syslog

__all__ = [
    "LogParser",
    "RulesetEvent",
    "Summary",
    "SyslogLine",
    "TlsRecord",
    "parse_message",
    "split_syslog",
]
