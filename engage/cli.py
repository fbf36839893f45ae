"""``python -m engage``: serve, demo-data, analyze and users (add, list, disable, enable)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
from collections.abc import Sequence

from engage import bus
from engage.config import ENV_VARS, ConfigError, Settings, flag_for, load, with_secret_key
from engage.errors import EngageError
from engage.infra import logs
from engage.models import Role

log = logging.getLogger("engage.cli")

# Flags that would put a secret on the command line (visible in `ps`) are not offered.
_NO_FLAG = {"ENGAGE_SECRET_KEY", "ENGAGE_TURN_SECRET", "ENGAGE_METRICS_TOKEN"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engage", description=__doc__)
    config = argparse.ArgumentParser(add_help=False)
    for env_name in ENV_VARS:
        if env_name not in _NO_FLAG:
            config.add_argument(flag_for(env_name), dest=env_name, metavar="VALUE",
                                help=f"overrides ${env_name}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", parents=[config], help="run a node (embedded backends by default)")
    demo = sub.add_parser("demo-data", parents=[config], help="load the real-estate demo data")
    demo.add_argument("--customers", type=int, default=20_000)
    demo.add_argument("--transactions", type=int, default=100_000)
    demo.add_argument("--no-progress", action="store_true")
    analyze = sub.add_parser("analyze", parents=[config],
                             help="run the analysis once (or keep watching with --watch)")
    analyze.add_argument("--watch", action="store_true",
                         help="keep running: rerun whenever the data changed")
    analyze.add_argument("--interval", type=float, default=300.0, metavar="SECONDS",
                         help="how often --watch checks for changed data (default 300)")
    analyze.add_argument("--no-progress", action="store_true")
    users = sub.add_parser("users", help="manage staff accounts")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = users_sub.add_parser("add", parents=[config], help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--display-name", default="")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of prompting")
    users_sub.add_parser("list", parents=[config], help="list accounts")
    for action in ("disable", "enable"):
        p = users_sub.add_parser(action, parents=[config],
                                 help=f"{action} an account" + (
                                     " and end its sessions and sockets"
                                     if action == "disable" else ""))
        p.add_argument("username")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    flags = {name: getattr(args, name, None) for name in ENV_VARS}
    return with_secret_key(load(os.environ, flags))


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise EngageError("the passwords differ")
    return first


async def _users(args: argparse.Namespace, settings: Settings) -> int:
    from engage.infra.backends import open_backends
    from engage.services import build_services

    async with open_backends(settings, own_children=False) as backends:
        services = build_services(settings, backends)
        if args.action == "add":
            user = await services.staff.add(args.username, _read_password(args), Role(args.role),
                                            display_name=args.display_name)
            print(f"added {user.username} ({user.role})")
        elif args.action == "list":
            users = await services.staff.list()
            width = max([len(u.username) for u in users] + [8])
            print(f"{'USERNAME':<{width}}  {'ROLE':<10}  STATUS    NAME")
            for u in users:
                status = "disabled" if u.disabled else "active"
                print(f"{u.username:<{width}}  {u.role.value:<10}  {status:<8}  {u.display_name}")
        elif args.action == "disable":
            user, ended = await services.auth.disable(args.username)
            print(f"disabled {user.username}; ended {ended} session(s); live sockets are closed")
        else:
            user = await services.auth.enable(args.username)
            print(f"enabled {user.username}")
    return 0


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from engage.demo.data import DEMO_PASSWORD, demo_logins, load_demo_data
    from engage.infra.backends import open_backends
    from engage.staff.directory import StaffDirectory

    if args.customers < 10 or args.transactions < 10:
        raise EngageError("--customers and --transactions must be at least 10")
    async with open_backends(settings, own_children=False) as backends:
        summary = await load_demo_data(backends.db, StaffDirectory(backends.db),
                                       customers=args.customers,
                                       transactions=args.transactions,
                                       progress=not args.no_progress)
        # A running node caches sites: tell it the demo sites are there.
        await bus.publish(backends.redis, bus.SITES_CHANGED, site_key="*")
    state = "already loaded" if summary.skipped else "loaded"
    print(f"demo data {state}: {summary.customers:,} customers, "
          f"{summary.transactions:,} transactions, {summary.interactions:,} interactions, "
          f"{summary.products} products, {summary.queues} queues, {summary.sites} sites")
    print(f"\nDemo sign-ins at {settings.public_url}/login "
          f"(password for all: {DEMO_PASSWORD}):")
    by_role: dict[str, list[str]] = {}
    for username, role in demo_logins():
        by_role.setdefault(role, []).append(username)
    for role, names in by_role.items():
        shown = ", ".join(names) if len(names) <= 3 else f"{names[0]} … {names[-1]}"
        print(f"  {role:<11} {shown}")
    return 0


async def _analyze(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from analytics.errors import AnalysisInputError
    from engage.analysis.worker import AnalysisWorker
    from engage.infra.backends import open_backends

    if args.interval < 1:
        raise EngageError("--interval must be at least 1 second")
    async with open_backends(settings, own_children=False) as backends:
        worker = AnalysisWorker(backends.db, backends.redis, worker_id=settings.node_id)
        if args.watch:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            log.info("analysis worker watching", extra={"interval": args.interval,
                                                        "worker": settings.node_id})
            await worker.watch(args.interval, stop)
            return 0
        with tqdm(total=100, desc="analysis", unit="%", file=sys.stderr,
                  disable=args.no_progress, bar_format="{desc:<24} {bar} {n:.0f}% "
                  "[{elapsed}]") as bar:
            def progress(stage: str, done: float) -> None:
                bar.set_description_str(f"analysis: {stage}", refresh=False)
                bar.update(max(round(done * 100) - bar.n, 0))

            try:
                report = await worker.run_once(progress)
            except AnalysisInputError as exc:
                raise EngageError(f"the analysis refused its input: {exc}") from None
    print(report.describe())
    return 0


async def _serve(settings: Settings) -> int:
    from aiohttp import web

    from engage.app import create_app
    from engage.infra.backends import open_backends

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with open_backends(settings) as backends:
        app = create_app(settings, backends)
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               shutdown_timeout=10)
        try:
            await runner.setup()  # a start that fails here is unwound by the cleanup below
            site = web.TCPSite(runner, settings.host, settings.port)
            await site.start()
            print(f"engage is up on {settings.public_url} (backends: {backends.kind})\n"
                  f"  staff sign-in:  {settings.public_url}/login\n"
                  f"  health:         {settings.public_url}/healthz  /readyz  /metrics",
                  flush=True)
            log.info("listening", extra={"url": settings.public_url,
                                         "settings": settings.redacted()})
            await stop.wait()
            log.info("shutting down")
        finally:
            await runner.cleanup()  # stop accepting, close sockets, then the cleanup contexts
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"engage: configuration error: {exc}", file=sys.stderr)
        return 2
    # Commands other than serve talk to people: only warnings go to the log stream.
    daemon = args.command == "serve" or getattr(args, "watch", False)
    level = settings.log_level if daemon or "ENGAGE_LOG_LEVEL" in os.environ else "WARNING"
    logs.configure(level, settings.log_json)
    try:
        if args.command == "serve":
            import uvloop

            return uvloop.run(_serve(settings))
        if args.command == "demo-data":
            return asyncio.run(_demo(args, settings))
        if args.command == "analyze":
            return asyncio.run(_analyze(args, settings))
        return asyncio.run(_users(args, settings))
    except EngageError as exc:
        print(f"engage: {exc.message}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # DataDirBusy, ChildStartError: say what to do
        print(f"engage: {exc}", file=sys.stderr)
        return 1
