"""`specbot feedback export|stats` and `specbot train kto|dpo`.

specbot/cli.py hands over the action and the remaining arguments; they are
parsed here so this package owns its options.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from specbot.errors import SpecbotError


class _Parser(argparse.ArgumentParser):
    # A bad option is bad input: one clear line (SpecbotError), exit code 2, like other commands.
    def error(self, message: str) -> NoReturn:
        raise SpecbotError(f"{self.prog}: {message}")


def export_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="specbot feedback export", description="write feedback as a TRL JSONL dataset")
    p.add_argument("--format", required=True, choices=["kto", "dpo", "sft"])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--since", help="only answers created on/after this date (YYYY-MM-DD or ISO time)")
    p.add_argument("--model", help="only answers from this model/adapter name")
    p.add_argument("--holdout", type=float, default=0.0, help="share of questions written to OUT.eval.jsonl")
    p.add_argument(
        "--include-unreviewed",
        action="store_true",
        help="also use corrections by people who are neither the asker nor a reviewer (unless rejected)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def stats_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="specbot feedback stats", description="approval of answers by document/section and model")
    p.add_argument("--plot", type=Path, help="write a PNG chart of approval rate over time")
    p.add_argument("--since")
    p.add_argument("--model")
    p.add_argument("--top", type=int, default=15, help="rows per breakdown table")
    p.add_argument("--json", action="store_true")
    return p


def run_feedback(a: argparse.Namespace) -> int:
    from feedback.export import parse_since
    from feedback.store import get_engine

    rest = list(a.rest or [])
    if a.action == "export":
        o = export_parser().parse_args(rest)
        from feedback.export import export

        rep = export(o.format, o.out, get_engine(), parse_since(o.since), o.model, o.holdout, o.include_unreviewed)
        if o.json:
            print(json.dumps(rep.as_dict(), ensure_ascii=False))
        else:
            extra = f", {rep.eval_rows} held out in {rep.eval_out}" if rep.eval_out else ""
            skipped = ", ".join(f"{k}: {v}" for k, v in sorted(rep.skipped.items())) or "none"
            print(f"wrote {rep.rows} {rep.format.upper()} rows to {rep.out}{extra} (skipped {skipped})")
        if rep.rows + rep.eval_rows == 0:
            print("note: no rows — nothing rated yet for this selection", file=sys.stderr)
        return 0
    if a.action == "stats":
        o = stats_parser().parse_args(rest)
        from feedback.stats import compute_stats, plot, render

        st = compute_stats(get_engine(), parse_since(o.since), o.model)
        if o.json:
            print(json.dumps(st, ensure_ascii=False, indent=2))
        else:
            render(st, top=o.top)
        if o.plot:
            print(f"chart: {plot(st, o.plot)}", file=sys.stderr)
        return 0
    raise SpecbotError(f"unknown feedback action {a.action!r}")


def train_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="specbot train", description="train a LoRA adapter on exported feedback (TRL)")
    p.add_argument("method", choices=["kto", "dpo"])
    p.add_argument("--data", required=True, type=Path, help="JSONL from `specbot feedback export`")
    p.add_argument(
        "--base", default="local", help="HF folder of the base model; 'local' = the converted SmolLM2 (default)"
    )
    p.add_argument("--out", required=True, type=Path, help="folder for the adapter")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--eval-data", type=Path, help="held-out JSONL (default: DATA.eval.jsonl, else split off)")
    p.add_argument("--holdout", type=float, default=0.2, help="share split off for evaluation when no eval file")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank (vLLM serves up to --max-lora-rank, 8 here)")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--max-length", type=int, default=1024, help="tokens per prompt+completion")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--register", metavar="URL", help="load the adapter into this running vLLM")
    p.add_argument("--name", help="adapter name in vLLM = LLM_MODEL for workers (default: OUT's folder name)")
    p.add_argument(
        "--send-llm-key",
        action="store_true",
        help="send LLM_API_KEY to the --register URL even though it is not LLM_BASE_URL's server",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def run_train(a: argparse.Namespace) -> int:
    o = train_parser().parse_args(list(a.rest or []))
    from feedback.train import TrainOptions, train

    report = train(TrainOptions.from_namespace(o))
    if o.register:
        from feedback.register import register_adapter

        try:
            report["registered"] = register_adapter(
                o.register, report["adapter_name"], Path(report["adapter_path"]), send_key=o.send_llm_key
            )
        except SpecbotError as e:
            # Training is not lost: say where the adapter is, so registering can be retried.
            raise SpecbotError(f"adapter saved in {report['adapter_path']}, but not registered: {e}") from None
    if o.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        ev = report["eval"]
        print(f"adapter: {report['adapter_path']} (name {report['adapter_name']})")
        loss, steps, sps = report["train_loss"], report["steps"], report["s_per_step"]
        print(f"train loss: {loss:.4f} over {steps} steps ({sps:.2f} s/step)")
        if ev["before"] is None:
            print(f"eval: {ev['note']}")
        else:
            print(
                f"held-out mean log-prob margin ({ev['what']}, {ev['n']} examples): "
                f"before {ev['before']:+.4f} -> after {ev['after']:+.4f}"
            )
        if report.get("registered"):
            print(f"registered in vLLM at {o.register}; set LLM_MODEL={report['adapter_name']} for workers")
    return 0
