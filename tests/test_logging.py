from __future__ import annotations

import io
import json
import logging

from config.logging import JsonFormatter, RequestIdFilter, TextFormatter, configure_logging
from config.settings import Settings
from streamsvc.kit.context import request_id_var


def _emit(formatter: logging.Formatter) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("streamsvc.test-logging")
    logger.addHandler(handler)
    logger.propagate = False
    token = request_id_var.set("req-42")
    try:
        logger.warning("order %s paid", "ord_1", extra={"amount": 1500})
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_lines_carry_request_id_and_extras() -> None:
    entry = json.loads(_emit(JsonFormatter()))
    assert entry["msg"] == "order ord_1 paid"
    assert entry["request_id"] == "req-42"
    assert entry["amount"] == 1500
    assert entry["level"] == "warning"


def test_text_lines_carry_request_id() -> None:
    line = _emit(TextFormatter())
    assert "[req-42]" in line
    assert "amount=1500" in line


def test_production_logs_json() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(Settings(env="production", log_json=None))
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        configure_logging(Settings(env="development"))
        assert isinstance(root.handlers[0].formatter, TextFormatter)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
