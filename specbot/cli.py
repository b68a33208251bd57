"""The `specbot` console script. Heavy imports stay inside each command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

from specbot.errors import SpecbotError, missing_dependency


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


# --- indexer ---------------------------------------------------------------
def cmd_index(a: argparse.Namespace) -> int:
    from indexer.cli import run_index

    return run_index(a, on_report=_record_index_report)


def _record_index_report(report: Any) -> None:
    """Each file `specbot index` handled goes into the spec records too (sections, tables and
    time for the Slack Home tab). Bookkeeping only: a database that is away costs a warning."""
    if report.status not in ("indexed", "unchanged", "failed"):
        return
    try:
        from pathlib import Path

        from feedback.interactions import record_spec_upload
        from specbot.slack.views import ocr_images

        rep = report.to_json()
        record_spec_upload(doc=Path(report.path).name, source="cli", status=report.status,
                           sections=report.sections, tables=report.tables, images=ocr_images(rep),
                           chunks=report.chunks, error=report.error or None)  # fmt: skip
    except Exception as e:
        logging.getLogger("specbot").warning("index report of %s not recorded: %s", report.path, type(e).__name__)


def cmd_sections(a: argparse.Namespace) -> int:
    from indexer.cli import run_sections

    return run_sections(a)


def cmd_search(a: argparse.Namespace) -> int:
    from indexer.cli import run_search

    return run_search(a)


def cmd_eval(a: argparse.Namespace) -> int:
    from indexer.cli import run_eval

    answer_fn = None
    guard = None
    if a.answers:
        from specbot.contracts import QuestionJob
        from workers.ask import ask_local
        from workers.guard import eval_guard, is_quote

        def answer_fn(question: str, doc: str | None) -> dict[str, Any]:
            job = QuestionJob(question=question, doc=doc, k=None, user="eval", source="cli", asked_at=time.time())
            out = ask_local(job).public()
            return {**out, "quoted": is_quote(out["answer"])}

        guard = eval_guard

    return run_eval(a, answer_fn, guard)


# --- answers ---------------------------------------------------------------
def cmd_ask(a: argparse.Namespace) -> int:
    from specbot.contracts import QuestionJob
    from workers.ask import ask_local, ask_queued, render_text

    question = QuestionJob(question=a.question, doc=a.doc, k=a.k, user="cli", source="cli", asked_at=time.time())
    result = ask_local(question) if a.local else ask_queued(question, timeout_s=a.timeout)
    if a.json:
        _print_json(result.public())
    else:
        print(render_text(result))
    return 1 if result.error else 0


def cmd_worker(a: argparse.Namespace) -> int:
    from workers.runner import run_workers

    return run_workers(processes=a.processes, burst=a.burst)


def cmd_llm(a: argparse.Namespace) -> int:
    import signal

    from workers.local_llm import start_server, stop_server

    # The server runs in its own session (so a terminal's Ctrl-C reaches us, not it):
    # it only stops if we stop it, on SIGTERM (systemd, docker stop, kill) as on Ctrl-C.
    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    print(f"starting vLLM (CPU) on http://127.0.0.1:{a.port}/v1 …", file=sys.stderr)
    proc = None
    try:
        proc = start_server(port=a.port)
        print(f"vLLM is healthy on http://127.0.0.1:{a.port}/v1 (Ctrl-C or SIGTERM stops it)", file=sys.stderr)
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if proc is not None:
            stop_server(proc)
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from specbot.demo import run_demo

    return run_demo()


def cmd_bot(a: argparse.Namespace) -> int:
    from bot.app import main as bot_main

    return bot_main(a)


def cmd_feedback(a: argparse.Namespace) -> int:
    from feedback.cli import run_feedback

    return run_feedback(a)


def cmd_train(a: argparse.Namespace) -> int:
    from feedback.cli import run_train

    return run_train(a)


def check_settings() -> None:
    """Bad settings stop every command with one `error:` line (exit 2), before any work."""
    from specbot.settings import get_settings

    get_settings()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="specbot", description="Grounded answers about Word specs, in Slack.")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", help="index .docx files or folders")
    s.add_argument("paths", nargs="+")
    s.add_argument("--json", action="store_true")
    s.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    s.add_argument("--force", action="store_true", help="re-index unchanged files")
    s.add_argument(
        "--keep-going",
        action="store_true",
        help="report files that fail and exit 0 anyway; exit 3 only if none could be indexed",
    )
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("sections", help="print a file's section tree")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sections)

    s = sub.add_parser("search", help="hybrid search over the index")
    s.add_argument("query")
    s.add_argument("--json", action="store_true")
    s.add_argument("-k", type=int, default=5)
    s.add_argument("--doc")
    s.add_argument("--mode", choices=["hybrid", "keyword", "vector"], default="hybrid")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("eval", help="score search (and --answers) on a golden question file")
    s.add_argument("golden", help="JSON lines: question, doc, section[, also, lang, expect]")
    s.add_argument("--modes", help="comma-separated: hybrid,keyword,vector (default all)")
    s.add_argument("-k", type=int, default=10, help="hits per question (MRR is over these)")
    s.add_argument("--json", action="store_true", help="print JSON instead of the table")
    s.add_argument("--out", help="also write the JSON report to this file")
    s.add_argument("--answers", action="store_true", help="also ask the bot and check answers")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("ask", help="ask a question (through the queue, or --local)")
    s.add_argument("question")
    s.add_argument("--json", action="store_true")
    s.add_argument("--local", action="store_true", help="run the job in this process")
    s.add_argument("--doc")
    s.add_argument("-k", type=int, default=None)
    s.add_argument("--timeout", type=float, default=300.0)
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("worker", help="run answer workers on REDIS_URL")
    s.add_argument("--processes", "-n", type=int, default=1)
    s.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("bot", help="run the Slack bot")
    s.add_argument("--port", type=int, default=3000)
    s.set_defaults(func=cmd_bot)

    s = sub.add_parser("llm", help="start the local vLLM server (CPU, SmolLM2)")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_llm)

    s = sub.add_parser("feedback", help="feedback records: export | stats")
    s.add_argument("action", choices=["export", "stats"])
    s.add_argument("rest", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_feedback)

    s = sub.add_parser("train", help="train a LoRA adapter from feedback (KTO/DPO)")
    s.add_argument("rest", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("demo", help="index a sample spec and answer three questions, offline")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from indexer.store.base import IndexMismatch

    t0 = time.perf_counter()
    try:
        check_settings()
        return int(args.func(args) or 0)
    except (SpecbotError, IndexMismatch) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        print(f"error: {missing_dependency(args.command, e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        logging.getLogger("specbot").debug("command took %.2fs", time.perf_counter() - t0)


if __name__ == "__main__":
    sys.exit(main())
