"""Shared fixtures: real PostgreSQL and Redis, a Heard per test, the CLI in-process.

Under CI=true a missing server is a failure, never a skip: the suite must prove both backends.
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from inbox.app import Heard
from inbox.config import load_settings
from inbox.migrate import upgrade
from inbox.queue import start_queue, stop_queue
from inbox.store import make_engine

# Fixtures every test may use without importing them.
pytest_plugins = ["tests.servers.http_receiver"]

PG_ADMIN_URL = os.environ.get("HEARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HEARD_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

BASE_CONFIG = """
[queue]
retry_base_seconds = 0.05
worker_threads = 4

[[channels]]
type = "webhook"
name = "forms"
secret = "test-secret"
callback_url = "http://127.0.0.1:9/unused"
"""


def server_missing(what: str, error: Exception) -> None:
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: tests that need it must run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"heard_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        server_missing("PostgreSQL", exc)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def truncate_all(url: str) -> None:
    from inbox.models import Base

    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as exc:
        server_missing("Redis", exc)
    return REDIS_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'heard.db'}"
    url: str = request.getfixturevalue("pg_url")
    truncate_all(url)
    return url


MakeHeard = Callable[..., Heard]


@pytest.fixture
def make_heard(tmp_path: Path) -> Iterator[MakeHeard]:
    """Build a migrated Heard with a running in-process queue from config text."""
    made: list[Heard] = []

    def make(
        config: str = BASE_CONFIG,
        store_url: str | None = None,
        *,
        queue: bool = True,
        worker: bool = True,
        name: str = "heard.toml",
    ) -> Heard:
        url = store_url or f"sqlite:///{tmp_path / 'heard.db'}"
        path = tmp_path / name
        body = config if "[store]" in config else f'[store]\nurl = "{url}"\n' + config
        path.write_text(body, encoding="utf-8")
        heard = Heard(load_settings(path))
        upgrade(heard.engine)
        if queue:
            start_queue(heard, worker=worker)
        made.append(heard)
        return heard

    yield make
    for heard in made:
        stop_queue(heard)
        heard.dispose()


@pytest.fixture
def heard(make_heard: MakeHeard, store_url: str) -> Heard:
    return make_heard(store_url=store_url)


RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_cli() -> RunCli:
    """Run `heard ARGS...` in this process; returns (exit code, stdout, stderr)."""
    from inbox.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = int(exc.code or 0)
        return code, out.getvalue(), err.getvalue()

    return run
