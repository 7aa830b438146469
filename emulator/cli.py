"""The `agentphone-emulator` command (also `python -m emulator`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from emulator import __version__, heap
from emulator.config import DEFAULT_DB, Settings, env, env_flag, read_keys_file
from emulator.logs import FORMATS, LEVELS
from emulator.plans import PLANS


class _ShowDefaults(argparse.HelpFormatter):
    """Appends "(default: ...)" to an option's help, unless there is no default worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or not action.option_strings or action.default in (None, False, [], argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the emulator HTTP server", formatter_class=_ShowDefaults,
                           description="Run the emulator. Every option can also be set with the environment "
                                       "variable named in its help; the defaults shown include those.")
    serve.add_argument("--host", default=env("HOST", "127.0.0.1"), metavar="HOST",
                       help="bind address [env AGENTPHONE_EMULATOR_HOST]")
    serve.add_argument("--port", type=int, default=env("PORT", "8000"),
                       help="port; 0 takes any free port [env AGENTPHONE_EMULATOR_PORT]")
    serve.add_argument("--db", default=env("DB", DEFAULT_DB), metavar="PATH",
                       help="SQLite file path (relative to the working directory), ':memory:', or any SQLAlchemy "
                            "async URL [env AGENTPHONE_EMULATOR_DB]")
    serve.add_argument("--strict-keys", action="store_true", default=env_flag("STRICT_KEYS"),
                       help="accept only the keys given by --key / --keys-file [env AGENTPHONE_EMULATOR_STRICT_KEYS]")
    serve.add_argument("--key", action="append", default=[], metavar="KEY",
                       help="an API key to accept in strict mode (repeatable)")
    serve.add_argument("--keys-file", default=env("KEYS_FILE"),
                       help="file with one API key per line [env AGENTPHONE_EMULATOR_KEYS_FILE]")
    serve.add_argument("--rate-limit", type=int, default=env("RATE_LIMIT", "0") or "0", metavar="N",
                       help="at most N requests per second per key, then 429; 0 is off "
                            "[env AGENTPHONE_EMULATOR_RATE_LIMIT]")
    serve.add_argument("--default-plan", choices=sorted(PLANS), default=env("DEFAULT_PLAN", "free"),
                       help="plan of accounts created on first use [env AGENTPHONE_EMULATOR_DEFAULT_PLAN]")
    serve.add_argument("--admin-token", default=env("ADMIN_TOKEN"),
                       help="require this token on /_emulator/* control routes; on an address beyond loopback one is "
                            "generated when none is given [env AGENTPHONE_EMULATOR_ADMIN_TOKEN]")
    serve.add_argument("--no-admin-token", action="store_true", default=env_flag("NO_ADMIN_TOKEN"),
                       help="beyond loopback, do not generate an admin token: the control API is open to anyone who "
                            "reaches the port [env AGENTPHONE_EMULATOR_NO_ADMIN_TOKEN]")
    serve.add_argument("--seed", type=int, default=env("SEED") or None,
                       help="make generated IDs, secrets and numbers reproducible [env AGENTPHONE_EMULATOR_SEED]")
    serve.add_argument("--fixtures", action="append", default=[p for p in [env("FIXTURES")] if p], metavar="PATH",
                       help="load a fixture file or directory at start (repeatable) [env AGENTPHONE_EMULATOR_FIXTURES]")
    serve.add_argument("--public-url", default=env("PUBLIC_URL"),
                       help="the base URL clients reach the emulator at, for links it returns such as recordingUrl "
                            "(default http://HOST:PORT) [env AGENTPHONE_EMULATOR_PUBLIC_URL]")
    serve.add_argument("--workers", type=int, default=env("WORKERS", "1"), metavar="N",
                       help="serve with N processes sharing the port and the database (default 1) "
                            "[env AGENTPHONE_EMULATOR_WORKERS]")
    serve.add_argument("--realtime", action="store_true", default=env_flag("REALTIME"),
                       help="pace simulated calls in wall-clock time (for demos) [env AGENTPHONE_EMULATOR_REALTIME]")
    serve.add_argument("--webhook-events", choices=["current", "skill-doc", "all"],
                       default=env("WEBHOOK_EVENTS", "current"),
                       help="webhook event vocabulary: current (agent.message, agent.call_ended, agent.reaction), "
                            "skill-doc (agent.message, call.started, call.ended, message.received, message.sent) "
                            "or all of both [env AGENTPHONE_EMULATOR_WEBHOOK_EVENTS]")
    serve.add_argument("--validation-status", type=int, choices=[400, 422], default=env("VALIDATION_STATUS", "400"),
                       help="status of field-rule errors: 400 as the skill doc documents, or 422 as FastAPI "
                            "answers [env AGENTPHONE_EMULATOR_VALIDATION_STATUS]")
    serve.add_argument("--log-level", default=env("LOG_LEVEL", "info"), choices=LEVELS,
                       help="log level; info shows one line per call, turn, message, delivery attempt, fixture "
                            "load, reset and fault [env AGENTPHONE_EMULATOR_LOG_LEVEL]")
    serve.add_argument("--log-format", default=env("LOG_FORMAT", "text"), choices=FORMATS,
                       help="text: one human line per happening; json: one JSON object per line "
                            "[env AGENTPHONE_EMULATOR_LOG_FORMAT]")
    serve.add_argument("--access-log", action="store_true", default=env_flag("ACCESS_LOG"),
                       help="also log every HTTP request [env AGENTPHONE_EMULATOR_ACCESS_LOG]")


def _scenario_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scenario = sub.add_parser("scenario", help="run scripted call scenarios")
    actions = scenario.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run scenario files or directories")
    run.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or directories (run in sorted order)")
    run.add_argument("--target", help="webhook URL of the agent under test (when a scenario names none)")
    run.add_argument("--base-url", help="an emulator that is already running (default: start one in-process)")
    run.add_argument("--fixtures", action="append", default=[], metavar="PATH",
                     help="fixtures for the in-process emulator (repeatable)")
    run.add_argument("--admin-token", default=env("ADMIN_TOKEN"), help="admin token of the emulator's control API")
    run.add_argument("--report-json", metavar="FILE", help="write a JSON report")
    run.add_argument("--report-junit", metavar="FILE", help="write a JUnit XML report (one test case per expectation)")
    run.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                     help="first wait up to SECONDS for --base-url and --target to answer (for ones just started in "
                          "the background)")
    run.add_argument("--seed", type=int, default=0, help="the personas' random choices (default 0)")
    run.add_argument("--record", action="store_true",
                     help="model callers ask their endpoint (AGENTPHONE_CALLER_URL, _MODEL, _KEY) and rewrite their "
                          "cassettes, instead of replaying them")
    run.add_argument("--save-baseline", metavar="NAME", help="save this run's observations as baseline NAME")
    run.add_argument("--baseline", metavar="NAME",
                     help="compare with baseline NAME: a changed end, actions or deliveries fail the run")
    run.add_argument("--baseline-dir", metavar="DIR",
                     help="where baselines are kept (default: 'baselines' beside the first PATH)")
    run.add_argument("--max-latency-increase", metavar="PERCENT",
                     help="with --baseline: fail a scenario whose median turn latency grew by more (e.g. 20%%)")
    export = actions.add_parser("export", help="write the scenario that reproduces an emulated call or SMS thread")
    export.add_argument("id", metavar="ID", help="a call ID (call_...) or a conversation ID (conv_...)")
    export.add_argument("--base-url", default=os.environ.get("AGENTPHONE_BASE_URL", "http://127.0.0.1:8000"),
                        help="the running emulator [env AGENTPHONE_BASE_URL]")
    export.add_argument("--key", default=os.environ.get("AGENTPHONE_API_KEY"),
                        help="the API key of the account that owns it [env AGENTPHONE_API_KEY]")
    export.add_argument("--out", metavar="FILE", help="write the scenario here (default: standard output)")


def _demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="the whole demo: emulator, demo fixture, example agent, shipped scenarios",
                          formatter_class=_ShowDefaults, description=DEMO_HELP)
    demo.add_argument("--dir", default=".", metavar="DIR",
                      help="the checkout holding fixtures/demo.yaml, scenarios/ and scenarios/example_agent/app.py")
    demo.add_argument("--port", type=int, default=8000, help="the emulator's port")
    demo.add_argument("--agent-port", type=int, default=8790, help="the example agent's port")
    demo.add_argument("--once", action="store_true",
                      help="stop after the scenarios (for CI) instead of serving until Ctrl-C")


DEMO_HELP = """Start an emulator (in memory) with the demo fixture and the example agent, run the shipped
scenarios against them, and print where to look next. Then keep both running until Ctrl-C, or stop
at once with --once. The exit code is the scenarios': 0 when every expectation held. Run it from a
checkout of the repository (it reads fixtures/ and scenarios/ from there)."""


def settings_from(args: argparse.Namespace) -> Settings:
    keys = list(args.key)
    if args.keys_file:
        keys += read_keys_file(args.keys_file)
    env_keys = env("KEYS")
    if env_keys:
        keys += [k.strip() for k in env_keys.split(",") if k.strip()]
    return Settings(
        host=args.host, port=args.port, db=args.db, strict_keys=args.strict_keys, keys=keys,
        rate_limit=args.rate_limit or None, default_plan=args.default_plan, admin_token=args.admin_token or None,
        no_admin_token=args.no_admin_token,
        seed=args.seed, fixtures=list(args.fixtures), realtime=args.realtime, public_url=args.public_url,
        webhook_events=args.webhook_events, validation_status=args.validation_status, workers=args.workers,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentphone-emulator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _scenario_parser(sub)
    _demo_parser(sub)
    args = parser.parse_args(argv)  # string defaults from the environment go through `type` too
    if args.command == "serve" and args.default_plan not in PLANS:
        parser.error(f"argument --default-plan: invalid choice {args.default_plan!r} (choose from {', '.join(PLANS)})")
    for name, value, allowed in (("--log-level", "log_level", LEVELS), ("--log-format", "log_format", FORMATS)):
        if args.command == "serve" and getattr(args, value) not in allowed:  # a bad value from the environment
            parser.error(f"argument {name}: invalid choice {getattr(args, value)!r} (choose from {', '.join(allowed)})")
    if args.command == "serve" and args.webhook_events not in ("current", "skill-doc", "all"):
        parser.error(f"argument --webhook-events: invalid choice {args.webhook_events!r} "
                     "(choose from current, skill-doc, all)")
    if args.command == "serve" and args.validation_status not in (400, 422):
        parser.error(f"argument --validation-status: invalid choice {args.validation_status} (choose from 400, 422)")
    if args.command == "serve" and not 1 <= args.workers <= 64:
        parser.error(f"argument --workers: give a number of processes from 1 to 64 (got {args.workers})")
    if args.command == "serve" and args.admin_token and args.no_admin_token:
        parser.error("--admin-token and --no-admin-token contradict each other; give one of them")
    if args.command == "serve":
        heap.hold_during_start_up()  # the collector is off until the server is ready (emulator/heap.py)
        try:
            from emulator.serve import serve

            return serve(settings_from(args), args.log_level, args.log_format, args.access_log)
        finally:
            heap.release()
    if args.command == "scenario" and args.action == "export":
        from emulator.scenarios.export import export_command

        return export_command(args.id, args.base_url, args.key, args.out)
    if args.command == "scenario":
        from emulator.scenarios.cli import run
        from emulator.waiting import NotReady, wait_for_emulator, wait_for_port

        try:
            if args.wait and args.base_url:
                wait_for_emulator(args.base_url, args.wait)
            if args.wait and args.target:
                wait_for_port(args.target, args.wait)
        except NotReady as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return run(args.paths, target=args.target, base_url=args.base_url, fixtures=args.fixtures,
                   admin_token=args.admin_token, report_json=args.report_json, report_junit=args.report_junit,
                   seed=args.seed, record=args.record, save_baseline=args.save_baseline, compare_with=args.baseline,
                   baseline_dir=args.baseline_dir, max_latency_increase=args.max_latency_increase)
    if args.command == "demo":
        from emulator.demo import run_demo

        return run_demo(Path(args.dir), port=args.port, agent_port=args.agent_port, once=args.once)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
