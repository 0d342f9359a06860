"""Logging in the format the gateway reads from a plugin's stderr.

The gateway parses each stderr line that is a JSON object with "@message"
as an hclog entry: "@level" keeps its level, every other key becomes an
attribute of the gateway's log line under the plugin's name. Anything else
on stderr (a traceback, say) is logged as text.
"""

import datetime
import json
import logging
import sys
import threading

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}

# Attributes every LogRecord has; anything else came from extra={...}.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _level_name(levelno):
    for threshold in (logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= threshold:
            return _LEVELS[threshold]
    return "debug" if levelno > 5 else "trace"


def _jsonable(v):
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def format_line(level, message, fields=None, now=None):
    """One hclog JSON line (without the newline)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    entry = {
        "@level": level,
        "@message": message,
        "@timestamp": now.isoformat(timespec="microseconds"),
    }
    for k, v in (fields or {}).items():
        if not k.startswith("@"):
            entry[k] = _jsonable(v)
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


class HCLogHandler(logging.Handler):
    """A logging.Handler writing hclog JSON lines to a stream (stderr)."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self._lock = threading.Lock()

    def emit(self, record):
        try:
            fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
            if record.name and record.name != "root":
                fields.setdefault("logger", record.name)
            if record.exc_info:
                fields["error"] = logging.Formatter().formatException(record.exc_info)
            line = format_line(_level_name(record.levelno), record.getMessage(), fields)
            stream = self.stream or sys.stderr
            with self._lock:
                stream.write(line + "\n")
                stream.flush()
        except Exception:  # a broken log line must never take the plugin down
            self.handleError(record)


def install(level=logging.INFO):
    """Routes the root logger to stderr as hclog JSON (once)."""
    root = logging.getLogger()
    if not any(isinstance(h, HCLogHandler) for h in root.handlers):
        root.addHandler(HCLogHandler())
    root.setLevel(level)


log = logging.getLogger("wogate_plugin")
