"""Snakemake logger plugin `ftrepro`: every job event of a run as one JSON line in a file, for
`ftrepro run`'s console (ftrepro.run reads them: a line per job, its bars, the time per stage).

    snakemake --logger ftrepro --logger-ftrepro-events logs/run/tiny/events.jsonl ...

Snakemake finds the plugin by this package's name (snakemake-interface-logger-plugins). Each line
is the log record's Snakemake fields (job_info: jobid, rule_name, output, log, wildcards, ...;
job_finished: job_id; job_error: jobid; run_info: stats; progress: done, total) with "event" and
"time" (seconds since the epoch). Snakemake's own text output is left as it is.
"""

import json
import logging
from dataclasses import dataclass, field
from typing import Optional

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

# what every LogRecord has: the rest of a record is the fields Snakemake gave its event
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}
# events of no use to the console: the DAG's internals and the shell commands
_LEFT_OUT = frozenset({LogEvent.DEBUG_DAG, LogEvent.RULEGRAPH, LogEvent.SHELLCMD})


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    # a real type, not a string annotation: Snakemake builds the option --logger-ftrepro-events from it
    events: Optional[str] = field(  # noqa: UP045
        default=None,
        metadata={"help": "file to append each job event to, one JSON line each", "required": True},
    )


class LogHandler(LogHandlerBase):
    def __post_init__(self) -> None:
        self._file = open(self.settings.events, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        if event is None or event in _LEFT_OUT:
            return
        fields = {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}
        line = json.dumps({**fields, "event": str(event), "time": record.created}, default=str)
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        super().close()

    @property
    def writes_to_stream(self) -> bool:
        return False

    @property
    def writes_to_file(self) -> bool:
        return False  # not Snakemake's log file: a stream of events beside it

    @property
    def has_filter(self) -> bool:
        return True  # every event, whatever --quiet says

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False
