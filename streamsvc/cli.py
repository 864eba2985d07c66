"""The `streamsvc` command: run, api, worker, beat, migrate."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from config.logging import configure_logging
from config.settings import Settings, SettingsError, load_settings

log = logging.getLogger("streamsvc.cli")


def _settings(*, find_embedded: bool = False) -> Settings:
    try:
        settings = load_settings()
        if find_embedded and not settings.database_url and not settings.is_production:
            # `streamsvc run` is up with its embedded PostgreSQL: use that one.
            from streamsvc.embedded import running_database_url

            url = running_database_url(settings.data_dir)
            if url is not None:
                settings = load_settings(database_url=url)
    except SettingsError as exc:
        raise SystemExit(f"streamsvc: {exc}") from None
    configure_logging(settings)
    return settings


def cmd_run(args: argparse.Namespace) -> int:
    from streamsvc.embedded import EmbeddedError
    from streamsvc.supervisor import Supervisor

    try:
        return Supervisor(_settings(), args.host, args.port, args.workers).run()
    except EmbeddedError as exc:
        raise SystemExit(f"streamsvc: {exc}") from None


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from streamsvc.http.multiprocess import node_directory

    settings = _settings()
    settings.require("database_url")
    settings.require("redis_url")
    # Before uvicorn starts the workers: they inherit the directory through which
    # /metrics sums them (streamsvc/http/metrics.py).
    with node_directory(args.workers):
        uvicorn.run(
            "streamsvc.app:create_app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=True,
            forwarded_allow_ips=args.forwarded_allow_ips,
            access_log=False,
            log_config=None,
            server_header=False,
        )
    return 0


def _passthrough(args: argparse.Namespace) -> list[str]:
    extra: list[str] = args.celery_args
    return extra[1:] if extra[:1] == ["--"] else extra


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.celery_app import create_celery

    app = create_celery(_settings())
    argv = ["worker", "--loglevel", args.loglevel, "--concurrency", str(args.concurrency)]
    app.worker_main(argv=argv + _passthrough(args))
    return 0


def cmd_beat(args: argparse.Namespace) -> int:
    from workers.celery_app import create_celery

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_celery(settings)
    app.start(argv=["beat", "--loglevel", args.loglevel, *_passthrough(args)])
    return 0


def cmd_worker_ping(args: argparse.Namespace) -> int:
    """Exit 0 when a worker (or the named one) answers a ping: a health check."""
    from workers.celery_app import create_celery

    app = create_celery(_settings())
    destination = [args.destination] if args.destination else None
    replies = app.control.ping(destination=destination, timeout=args.timeout)
    print(json.dumps(replies))
    return 0 if replies else 1


def cmd_venue(args: argparse.Namespace) -> int:
    from streamsvc.staff.cli import run_create

    return run_create(_settings(find_embedded=True), args)


def cmd_platform_admin(args: argparse.Namespace) -> int:
    from streamsvc.platform.cli import run_create

    return run_create(_settings(find_embedded=True), args)


def cmd_migrate(args: argparse.Namespace) -> int:
    from streamsvc.migrate import upgrade

    settings = _settings()
    upgrade(settings.require("database_url"), args.revision)
    print(f"database migrated to {args.revision}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamsvc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start API, worker and beat (embedded servers if unset)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--workers", type=int, default=1, help="API processes")
    run.set_defaults(func=cmd_run)

    api = sub.add_parser("api", help="serve the HTTP API only")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    api.add_argument(
        "--forwarded-allow-ips", default="127.0.0.1", help="proxies trusted for X-Forwarded-*"
    )
    api.set_defaults(func=cmd_api)

    for name, func in (("worker", cmd_worker), ("beat", cmd_beat)):
        p = sub.add_parser(name, help=f"run a Celery {name}")
        p.add_argument("--loglevel", default="INFO")
        if name == "worker":
            p.add_argument("--concurrency", type=int, default=os.cpu_count() or 1)
        p.add_argument("celery_args", nargs=argparse.REMAINDER, help="passed on to Celery")
        p.set_defaults(func=func)

    ping = sub.add_parser("worker-ping", help="exit 0 when a Celery worker answers")
    ping.add_argument("--destination", help="a worker name, e.g. celery@host")
    ping.add_argument("--timeout", type=float, default=2.0)
    ping.set_defaults(func=cmd_worker_ping)

    from streamsvc.staff.cli import add_commands

    add_commands(sub)
    sub.choices["venue"].set_defaults(func=cmd_venue)
    from streamsvc.platform.cli import add_commands as add_platform_commands

    add_platform_commands(sub)
    sub.choices["platform-admin"].set_defaults(func=cmd_platform_admin)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=cmd_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
