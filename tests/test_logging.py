"""Logs a human can read: each line once, no stack trace for an ordinary 403 or 404, no
banner from a library on every command."""

import logging
import sys

import pytest
from axes.apps import AppConfig as AxesConfig

from tests.factories import UserFactory


def console_handlers_for(record: logging.LogRecord) -> list[logging.Handler]:
    """The handlers that would print this record, walking up the logger tree as logging does."""
    printing = []
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        printing += [
            handler
            for handler in logger.handlers
            if record.levelno >= handler.level
            and handler.filter(record)
            # pytest's capture handlers are not part of the configuration under test.
            and type(handler).__module__.split(".")[0] != "_pytest"
        ]
        logger = logger.parent if logger.propagate else None
    return printing


@pytest.fixture
def request_log(caplog):
    with caplog.at_level(logging.INFO, logger="django.request"):
        yield caplog


def test_the_dev_server_prints_each_request_warning_once(settings):
    settings.DEBUG = True
    record = logging.getLogger("django.request").makeRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/nope/",), None
    )

    assert len(console_handlers_for(record)) == 1


def test_an_ordinary_403_and_404_log_one_line_without_a_stack_trace(client, request_log, db):
    client.force_login(UserFactory(role="reception"))

    assert client.get("/setup/clinicians/").status_code == 403
    assert client.get("/patients/999999/").status_code == 404

    refusals = [r for r in request_log.records if r.name == "django.request"]
    assert [r.status_code for r in refusals] == [403, 404]  # type: ignore[attr-defined]
    for record in refusals:
        (console,) = console_handlers_for(record)
        line = console.format(record)
        assert "Traceback" not in line and "\n" not in line.strip()


def test_a_server_error_keeps_its_stack_trace():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("django.request").makeRecord(
            "django.request",
            logging.ERROR,
            __file__,
            1,
            "Internal Server Error: %s",
            ("/x/",),
            sys.exc_info(),
            extra={"status_code": 500},
        )

    (console,) = console_handlers_for(record)
    assert "Traceback" in console.format(record)


def test_no_axes_banner_on_every_command(caplog, monkeypatch):
    monkeypatch.setattr(AxesConfig, "initialized", False)

    with caplog.at_level(logging.INFO, logger="axes"):
        AxesConfig.initialize()

    assert "AXES: BEGIN" not in caplog.text


@pytest.mark.django_db
def test_the_request_line_follows_the_loggers_level(client, caplog):
    # Below INFO nothing is built for a request's line; a server error's still is.
    from django.test import override_settings

    with caplog.at_level(logging.WARNING, logger="nexus.request"):
        client.get("/healthz/")
    assert not [r for r in caplog.records if r.name == "nexus.request"]

    with caplog.at_level(logging.INFO, logger="nexus.request"):
        client.get("/healthz/")
    (line,) = [r for r in caplog.records if r.name == "nexus.request"]
    assert line.levelno == logging.INFO

    caplog.clear()
    client.raise_request_exception = False
    with (
        caplog.at_level(logging.WARNING, logger="nexus.request"),
        override_settings(ROOT_URLCONF="tests.failing_urls"),
    ):
        assert client.get("/boom/").status_code == 500
    (line,) = [r for r in caplog.records if r.name == "nexus.request"]
    assert line.levelno == logging.WARNING
