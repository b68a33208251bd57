"""Training speed on the CPU for SmolLM2-135M-Instruct: KTO and DPO steps/s.

    .venv/bin/python bench/train_speed.py [--steps 6] [--batch-size 2] [--max-length 256]

Synthetic spec Q&A rows in the exact shape `specbot feedback export` writes go
through `feedback.train.train()` (TRL + LoRA r=8, the same code path as
`specbot train`). Step times come from a trainer callback; the first step is
warm-up and left out. Baseline in the same run: a plain causal-LM (SFT-style)
LoRA step in PyTorch on the same model, batch size and length — KTO/DPO cost
extra reference-model passes, the ratio shows how much.
Writes bench/results/train_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# BENCH_RESULTS: write elsewhere (e.g. $OUT on a GPU machine).
RESULTS = Path(os.environ.get("BENCH_RESULTS") or Path(__file__).with_name("results"))


def rows(n: int) -> tuple[list[dict], list[dict]]:
    system = {"role": "system", "content": "Answer from the context and cite the section number."}
    kto, dpo = [], []
    for i in range(n):
        ctx = f"[{i}.2.1] Requirement REQ-{i:04d}: the ECU shall send the status message every {10 + i} ms. " * 3
        p = [system, {"role": "user", "content": f"Context:\n{ctx}\nQuestion: How often is the status sent ({i})?"}]
        good = [{"role": "assistant", "content": f"Every {10 + i} ms (section {i}.2.1, REQ-{i:04d})."}]
        bad = [{"role": "assistant", "content": "Once per second, I think."}]
        kto += [{"prompt": p, "completion": good, "label": True}, {"prompt": p, "completion": bad, "label": False}]
        dpo.append({"prompt": p, "chosen": good, "rejected": bad})
    return kto, dpo


def write(path: Path, data: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in data))
    return path


def baseline(base: Path, data: list[dict], steps: int, batch: int, max_length: int) -> list[float]:
    """Plain LoRA causal-LM steps (no reference model) on the same texts."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from feedback.train import LORA_TARGETS

    tok = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5)
    texts = [tok.apply_chat_template(r["prompt"] + r["chosen"], tokenize=False) for r in data]
    times = []
    for s in range(steps):
        chunk = [texts[(s * batch + j) % len(texts)] for j in range(batch)]
        enc = tok(chunk, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
        t = time.perf_counter()
        out = model(**enc, labels=enc["input_ids"])
        out.loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t)
    return times[1:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument(
        "--llama3-8b-shape", action="store_true", help="GPU only: time LoRA DPO/KTO steps at Llama-3-8B's shape"
    )
    ap.add_argument("--pairs", type=int, default=4, help="examples per step for --llama3-8b-shape")
    ap.add_argument("--seq", type=int, default=2048, help="tokens per sequence for --llama3-8b-shape")
    a = ap.parse_args()
    if a.llama3_8b_shape:
        res = llama3_8b_shape(a.pairs, a.seq, completion=256, steps=a.steps)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "train_speed_gpu_llama3_8b_shape.json").write_text(json.dumps(res, indent=2) + "\n")
        print(json.dumps(res, indent=2))
        return 0

    import torch
    from transformers import TrainerCallback

    import feedback.train as ft
    from specbot.settings import Settings
    from workers.local_llm import model_dir

    base = model_dir(Settings(SPECBOT_DATA_DIR=ROOT / ".data"))
    tmp = Path(tempfile.mkdtemp(prefix="specbot-bench-train-"))
    kto, dpo = rows(24)
    files = {"kto": write(tmp / "kto.jsonl", kto), "dpo": write(tmp / "dpo.jsonl", dpo)}
    write(tmp / "kto.eval.jsonl", kto[:2])  # tiny eval: this bench measures training, not evaluation
    write(tmp / "dpo.eval.jsonl", dpo[:1])

    step_times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *args, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, *args, **kw):
            step_times.append(time.perf_counter() - self.t)

    # Hook the timer into whichever TRL trainer train() builds.
    from trl import DPOTrainer, KTOTrainer

    for cls in (KTOTrainer, DPOTrainer):
        orig = cls.__init__

        def init(self, *args, _orig=orig, **kw):
            kw["callbacks"] = [*(kw.get("callbacks") or []), Timer()]
            _orig(self, *args, **kw)

        cls.__init__ = init

    res: dict[str, object] = {
        "model": str(base.name), "device": "cpu", "torch_threads": torch.get_num_threads(),
        "steps": a.steps, "rounds": a.rounds, "batch_size": a.batch_size, "max_length": a.max_length, "lora_rank": 8,
    }  # fmt: skip
    # The dev machine is shared (2 cores): run the three in rounds and keep, per method,
    # the median and the best step; the best is the least disturbed by other processes.
    times: dict[str, list[float]] = {"baseline": [], "kto": [], "dpo": []}
    losses: dict[str, float] = {}
    for r in range(a.rounds):
        times["baseline"] += baseline(base, dpo, a.steps, a.batch_size, a.max_length)
        for method in ("kto", "dpo"):
            step_times.clear()
            opts = ft.TrainOptions(
                method, files[method], tmp / f"{method}-adapter", base=str(base), steps=a.steps,
                batch_size=a.batch_size, max_length=a.max_length, progress=False,
            )  # fmt: skip
            losses[method] = ft.train(opts)["train_loss"]
            times[method] += step_times[1:] or step_times
        print(f"round {r + 1}: { {k: [round(x, 2) for x in v] for k, v in times.items()} }", file=sys.stderr)
    base_med, base_min = statistics.median(times["baseline"]), min(times["baseline"])
    res["baseline_plain_lora_step_s"] = {"median": round(base_med, 3), "best": round(base_min, 3)}
    for method in ("kto", "dpo"):
        med, best = statistics.median(times[method]), min(times[method])
        res[method] = {
            "s_per_step_median": round(med, 3),
            "s_per_step_best": round(best, 3),
            "steps_per_s_best": round(1 / best, 3),
            "ratio_to_baseline_best": round(best / base_min, 2),
            "ratio_to_baseline_median": round(med / base_med, 2),
            "train_loss": round(losses[method], 4),
        }
        print(f"{method}: {res[method]}", file=sys.stderr)
    res["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_speed.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


def llama3_8b_shape(pairs: int, seq: int, completion: int, steps: int) -> dict[str, object]:
    """GPU recipe check: one DPO-shaped and one KTO-shaped LoRA step on a randomly
    initialised model of Llama-3-8B's exact shape (weights are not needed for time
    and memory, and nothing is downloaded). Plain PyTorch + peft, bf16, gradient
    checkpointing, LoRA r=8 on all linear layers; the reference model is the same
    weights with the adapter disabled, as TRL does with peft."""
    import torch
    import torch.nn.functional as F  # noqa: N812
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192, rope_theta=500000.0,
    )  # fmt: skip
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=targets, task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-6)

    def logps(ids: torch.Tensor) -> torch.Tensor:
        logits = model(input_ids=ids).logits[:, -completion - 1 : -1].float()
        return torch.gather(F.log_softmax(logits, -1), 2, ids[:, -completion:, None])[..., 0].sum(-1)

    def dpo_step(b: int) -> None:
        ids = torch.randint(0, cfg.vocab_size, (2 * b, seq), device="cuda")  # chosen + rejected
        with torch.no_grad(), model.disable_adapter():
            ref = logps(ids)
        pol = logps(ids)
        r = (pol - ref) * 0.1
        loss = -F.logsigmoid(r[:b] - r[b:]).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def kto_step(b: int) -> None:
        ids = torch.randint(0, cfg.vocab_size, (b, seq), device="cuda")
        kl_ids = torch.randint(0, cfg.vocab_size, (b, seq), device="cuda")  # mismatched prompt/completion
        with torch.no_grad():
            with model.disable_adapter():
                ref, ref_kl = logps(ids), logps(kl_ids)
            kl = (logps(kl_ids) - ref_kl).mean().clamp(min=0)
        pol = logps(ids)
        loss = (1 - torch.sigmoid(0.1 * (pol - ref - kl))).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    out: dict[str, object] = {
        "shape": "Llama-3-8B (random init)", "gpu": torch.cuda.get_device_name(), "dtype": "bf16",
        "lora_rank": 8, "trainable_params": trainable, "seq_len": seq, "completion_tokens": completion,
    }  # fmt: skip
    for name, fn in (("dpo", dpo_step), ("kto", kto_step)):
        torch.cuda.reset_peak_memory_stats()
        fn(pairs)  # warm-up
        torch.cuda.synchronize()
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            fn(pairs)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        s = statistics.median(times)
        out[name] = {
            "examples_per_step": pairs,
            "s_per_step": round(s, 3),
            "min_per_1k_examples": round(1000 / pairs * s / 60, 1),
            "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1),
        }
        print(name, out[name], file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    sys.exit(main())
