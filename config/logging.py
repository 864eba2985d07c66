"""Logging configuration: JSON lines in production, readable text elsewhere.

Every record carries the request id (or task id) of the work it belongs to.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from config.settings import Settings
from streamsvc.kit.context import request_id_var

# Attributes every LogRecord has; anything else was passed through `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
# Celery repeats the whole task message in `data`; the text format shows the message only.
_TEXT_HIDDEN = _STANDARD | {"data"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {k: v for k, v in vars(record).items() if k not in _TEXT_HIDDEN}
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return line


def configure_logging(settings: Settings) -> None:
    """Install the root handler once per process."""
    as_json = settings.is_production if settings.log_json is None else settings.log_json
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"request_id": {"()": RequestIdFilter}},
            "formatters": {
                "json": {"()": JsonFormatter},
                "text": {"()": TextFormatter},
            },
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "json" if as_json else "text",
                    "filters": ["request_id"],
                }
            },
            "root": {"handlers": ["stderr"], "level": settings.log_level.upper()},
            "loggers": {
                # Our access log replaces uvicorn's (which would log query strings,
                # and viewing tokens may travel in them).
                "uvicorn.access": {"handlers": [], "propagate": False},
                "uvicorn.error": {"handlers": [], "propagate": True},
                # Embedded-server chatter (initdb output and such) is not news.
                "pgserver": {"level": "WARNING"},
                # The Stripe library logs whole API answers at debug, PaymentIntents'
                # client_secret among them, and every request at info.
                "stripe": {"level": "WARNING"},
            },
        }
    )
