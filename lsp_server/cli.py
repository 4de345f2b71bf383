"""The ``agent-lsp`` command line: ``chat`` (the interactive session, also what ``agent-lsp``
alone runs), ``serve`` (the language server), ``acp`` (the ACP agent), ``ask``, ``threads``,
``show``, ``compact``, ``undo`` (the headless CLI), ``attach`` and ``host`` (the agent host) and ``--version``.

Only argparse is imported up front; each subcommand imports what it needs, so
``agent-lsp --version`` is instant and ``serve`` never imports the model SDK before
answering ``initialize``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from lsp_server import __version__


def add_setting_flags(command: argparse.ArgumentParser) -> None:
    """One flag per setting that has one (``agent.config.OPTIONS``: the settings' one source)."""
    from agent import OPTIONS

    for option in OPTIONS:
        if option.cli:
            command.add_argument(option.cli, dest=f"setting:{option.key}", metavar=option.cli.lstrip("-").replace("-", "_").upper(),
                                 help=f"{option.help} (setting {option.key}"
                                      + (f", or {option.env})" if option.env else ")"))


def build_parser(setting_flags: bool = False) -> argparse.ArgumentParser:
    """The parser; ``setting_flags`` adds the settings' flags to ``ask`` (it imports the
    settings model, so ``--version`` and ``serve`` do without it)."""
    parser = argparse.ArgumentParser(prog="agent-lsp", description="A coding agent inside your editor.")
    parser.add_argument("--version", action="version", version=f"agent-lsp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the language server (LSP on stdio)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    serve.add_argument("--log-level", default="WARNING", help="stderr log level (default WARNING)")
    ask = sub.add_parser("ask", help="run one agent turn in this workspace, in the terminal")
    ask.add_argument("prompt", help="what the agent should do")
    if setting_flags:
        add_setting_flags(ask)
    ask.add_argument("--thread", metavar="ID", help="continue this thread (its id or a unique prefix of it)")
    ask.add_argument("--continue", dest="continue_last", action="store_true",
                     help="continue the workspace's last thread (a new one if it has none)")
    ask.add_argument("--json", action="store_true", help="print each event as one JSON line")
    chat = sub.add_parser("chat", help="an interactive session in the workspace's last thread (the default)")
    if setting_flags:
        add_setting_flags(chat)
    chat.add_argument("--thread", metavar="ID", help="open this thread (its id or a unique prefix of it)")
    chat.add_argument("--new", action="store_true", help="start a new thread instead of the last one")
    acp = sub.add_parser("acp", help="run the ACP agent (Agent Client Protocol on stdio: Zed, JetBrains, ...)")
    acp.add_argument("--log-level", default="WARNING", help="stderr log level (default WARNING)")
    if setting_flags:
        add_setting_flags(acp)
    threads = sub.add_parser("threads", help="list this workspace's threads, newest first")
    threads.add_argument("--json", action="store_true", help="one JSON object per line")
    show = sub.add_parser("show", help="show one thread's items")
    show.add_argument("id", help="thread id (see `agent-lsp threads`)")
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    compact = sub.add_parser("compact", help="compact a thread's context now (a turn of its own)")
    compact.add_argument("id", help="thread id (see `agent-lsp threads`)")
    compact.add_argument("--instructions", help="what the summary should keep or focus on")
    attach = sub.add_parser("attach", help="follow a live thread of the agent host, answer its approvals")
    attach.add_argument("id", help="thread id (see `agent-lsp threads`)")
    attach.add_argument("--json", action="store_true", help="print each event as one JSON line")
    attach.add_argument("--follow", action="store_true", help="keep following later turns until Ctrl-C")
    undo = sub.add_parser("undo", help="undo the file changes of the current thread's last (or given) turn")
    undo.add_argument("turn", nargs="?", help="turn id or a unique prefix (default: the last turn that changed files)")
    undo.add_argument("--thread", metavar="ID", help="the thread (default: the workspace's last)")
    undo.add_argument("--redo", action="store_true", help="redo an undone turn instead")
    undo.add_argument("--json", action="store_true", help="one JSON object")
    host = sub.add_parser("host", help="the agent host of this state directory: status or stop")
    host.add_argument("action", choices=["status", "stop"])
    host.add_argument("--json", action="store_true", help="one JSON object")
    for command in (ask, chat, threads, show, compact, attach, undo):
        command.add_argument("--workspace", metavar="DIR", type=Path, default=Path.cwd(),
                             help="workspace root (default: the current directory)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if (not argv or argv[0] in ("ask", "chat")) and not {"-h", "--help", "--state-dir"} & {a.split("=")[0] for a in argv}:
        from agent import start_early  # the agent host's start-up overlaps ours (a cold start)

        start_early()
    if not argv:
        argv = ["chat"]
    parser = build_parser(setting_flags=argv[0] in ("ask", "acp", "chat"))
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "acp":
        from acp_server.main import main as acp_main

        return acp_main(_settings(args), __version__, args.log_level)
    if args.command == "host":
        from agent import resolve_settings
        from agent_cli.attach import host

        return host(args.action, resolve_settings(None)[0], args.json)
    if args.command == "undo":
        from agent_cli.undo import undo as undo_turn

        return undo_turn(args.workspace.resolve(), args.turn, args.thread, args.json, args.redo)
    if args.command in ("ask", "chat", "threads", "show", "compact", "attach"):
        from agent_cli import commands as headless

        if not args.workspace.is_dir():
            print(f"agent-lsp: workspace {args.workspace} is not a directory", file=sys.stderr)
            return 2
        if args.command == "ask":
            if args.thread and args.continue_last:
                print("agent-lsp: give --thread or --continue, not both", file=sys.stderr)
                return 2
            return headless.ask(headless.AskOptions(args.prompt, args.workspace.resolve(), _settings(args),
                                                    args.thread, args.json, continue_last=args.continue_last))
        if args.command == "chat":
            return _chat(args)
        if args.command == "threads":
            return headless.threads(args.workspace, args.json)
        if args.command == "attach":
            from agent import resolve_settings
            from agent_cli.attach import attach as attach_thread

            return attach_thread(args.workspace.resolve(), args.id, resolve_settings(None)[0], args.json, args.follow)
        if args.command == "compact":
            return headless.compact(args.workspace.resolve(), args.id, args.instructions)
        return headless.show(args.workspace, args.id, args.json)
    parser.print_help(sys.stderr)
    return 2


def _chat(args: argparse.Namespace) -> int:
    from agent import NO_KEY_MESSAGE, api_key_present
    from agent_cli.chat import ChatOptions, chat
    from agent_cli.commands import settings_from_flags

    settings, errors = settings_from_flags(_settings(args))  # type: ignore[arg-type]
    for error in errors:
        print(f"agent-lsp: {error}", file=sys.stderr)
    if any(error.startswith("option ") for error in errors):
        return 2
    if not api_key_present():
        print(f"agent-lsp: {NO_KEY_MESSAGE}", file=sys.stderr)
        return 1
    return chat(ChatOptions(args.workspace.resolve(), settings, args.thread, args.new))


def _settings(args: argparse.Namespace) -> dict[str, object]:
    return {key.removeprefix("setting:"): value for key, value in vars(args).items()
            if key.startswith("setting:") and value is not None}


def _drop_client_errors(record: logging.LogRecord) -> bool:
    """pygls logs every error response with a traceback; a client's bad params (-32602) or
    a busy thread (-32803) are answered to the client and are not server faults."""
    error = record.exc_info[1] if record.exc_info else None
    return getattr(error, "code", None) not in (-32602, -32803)


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from lsp_server.server import create_server

    logging.getLogger("pygls.protocol.json_rpc").addFilter(_drop_client_errors)

    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            print(f"agent-lsp: --tcp expects HOST:PORT, got {args.tcp!r}", file=sys.stderr)
            return 2
        server.start_tcp(host, int(port))
    else:
        server.start_io()
    return 0
