"""The log line format of lessons 17 on (src/Logging.h), and what the suite reads from it.

    2026-12-02T06:22:31.123456Z 4242 INFO  accepted 127.0.0.1:40000 on io loop 1 (3 clients) - server.cpp:364

Time (UTC, microseconds), the thread's kernel id, the level padded to 5 characters, the message,
" - ", the source file and line. From lesson 17 on a server reports each connection it accepts and
closes in a log line (on stderr, unless lesson 18's --log-dir sends the log to files); before, it
printed the same message as a line of its own on stdout. `messages` reads both, so that a test
counting connections works for every lesson.
"""

import re
from collections import namedtuple

LOG_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (?P<tid>\d+) "
    r"(?P<level>TRACE|DEBUG|INFO |WARN |ERROR|FATAL) (?P<message>.*) - (?P<source>[^ ]+:\d+)$")

LogLine = namedtuple("LogLine", "time tid level message source")


def parse(text):
    """The log lines of `text` (a list of LogLine, the level without its padding); other lines are
    left out."""
    lines = []
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if m:
            lines.append(LogLine(m["time"], int(m["tid"]), m["level"].rstrip(), m["message"],
                                 m["source"]))
    return lines


def messages(server):
    """What the server has reported, as one text: its stdout, then the messages of the log lines
    on its stderr, one per line, all of each (not only a tail)."""
    logged = "\n".join(line.message for line in parse(server.stderr_text(None)))
    return server.stdout_text(None) + "\n" + logged + "\n"
