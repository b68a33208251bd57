"""`specbot train kto|dpo`: a LoRA adapter from exported feedback, with TRL + peft.

The adapter's rank stays <= 8 so vLLM started with --max-lora-rank 8 can serve
it. Before and after training, the held-out split is scored by the mean
log-probability margin: DPO, chosen minus rejected completion of the same
prompt; KTO, desirable minus undesirable completions. Log-probabilities are
per completion token, so long and short answers compare fairly.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specbot.errors import SpecbotError
from specbot.settings import LOCAL_LLM_MODEL

MAX_RANK = 8  # vLLM --max-lora-rank of the dev and production servers
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class TrainOptions:
    method: str
    data: Path
    out: Path
    base: str = "local"
    steps: int = 100
    eval_data: Path | None = None
    holdout: float = 0.2
    rank: int = 8
    lr: float = 5e-5
    batch_size: int = 2
    max_length: int = 1024
    beta: float = 0.1
    seed: int = 0
    name: str | None = None
    progress: bool = True

    @classmethod
    def from_namespace(cls, a: argparse.Namespace) -> TrainOptions:
        return cls(
            method=a.method, data=a.data, out=a.out, base=a.base, steps=a.steps, eval_data=a.eval_data,
            holdout=a.holdout, rank=a.rank, lr=a.lr, batch_size=a.batch_size, max_length=a.max_length,
            beta=a.beta, seed=a.seed, name=a.name,
        )  # fmt: skip


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def resolve_base(base: str) -> Path | str:
    if base in ("local", "smollm2", LOCAL_LLM_MODEL):
        from specbot.local_model import model_dir

        return model_dir()
    p = Path(base).expanduser()
    if p.is_dir():
        return p.resolve()
    # A hub ID only works where its weights are already cached (nothing is downloaded here).
    return base


def load_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise SpecbotError(f"training data {path} not found (make it with `specbot feedback export`)")
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise SpecbotError(f"{path}:{n}: not JSON ({e.msg})") from None
    return rows


def check_rows(method: str, rows: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Keep usable rows; stop with a clear message when nothing can be learnt."""
    need = {"kto": ("prompt", "completion", "label"), "dpo": ("prompt", "chosen", "rejected")}[method]
    for i, r in enumerate(rows, 1):
        missing = [k for k in need if k not in r]
        if missing:
            raise SpecbotError(f"{where}: row {i} has no {', '.join(missing)} — is this a {method.upper()} export?")
    if method == "dpo":
        rows = [r for r in rows if r["chosen"] != r["rejected"]]
        if not rows:
            raise SpecbotError(
                f"{where}: no preference pairs to train on (DPO needs corrections or opposite-rated answers "
                "to the same question)"
            )
        return rows
    good = sum(1 for r in rows if r["label"])
    bad = len(rows) - good
    if not rows:
        raise SpecbotError(f"{where}: no rated answers to train on")
    if not good or not bad:
        raise SpecbotError(
            f"{where}: one-sided data ({good} desirable, {bad} undesirable); KTO needs both 👍 and 👎 examples"
        )
    return rows


def _group(r: dict[str, Any]) -> str:
    """Split by question, so the same question never sits on both sides."""
    last_user = [m.get("content", "") for m in r["prompt"] if m.get("role") == "user"][-1:]
    return hashlib.sha1(json.dumps(last_user, ensure_ascii=False).encode()).hexdigest()


def split(rows: list[dict[str, Any]], holdout: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    groups = sorted({_group(r) for r in rows})
    if holdout <= 0 or len(groups) < 2:
        return rows, []
    n = min(len(groups) - 1, max(1, math.ceil(holdout * len(groups))))
    held = set(groups[:n])  # groups are hashes: a stable pseudo-random choice
    return [r for r in rows if _group(r) not in held], [r for r in rows if _group(r) in held]


def completion_logprob(model: Any, tok: Any, prompt: list[dict], completion: list[dict], max_length: int) -> float:
    """Mean log-probability per token of `completion` after `prompt` (chat template applied)."""
    import torch

    p_text = tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    full = tok.apply_chat_template(prompt + completion, tokenize=False)
    if full.startswith(p_text):
        p_ids = tok(p_text, add_special_tokens=False).input_ids
        c_ids = tok(full[len(p_text) :], add_special_tokens=False).input_ids
    else:  # a template that rewrites earlier turns: score the completion text alone
        p_ids = tok(p_text, add_special_tokens=False).input_ids
        c_ids = tok(completion[-1]["content"], add_special_tokens=False).input_ids
    c_ids = c_ids[: max_length - 1]
    ids = (p_ids + c_ids)[-max_length:]  # long prompts lose their start, as in training
    n_c = len(c_ids)
    x = torch.tensor([ids], device=model.device)
    with torch.no_grad():
        logits = model(input_ids=x).logits[0, :-1].float()
    logp = torch.log_softmax(logits, dim=-1)
    targets = x[0, 1:]
    tok_lp = logp.gather(-1, targets[:, None])[:, 0][-n_c:]
    return float(tok_lp.mean())


def margin(method: str, model: Any, tok: Any, rows: list[dict[str, Any]], max_length: int) -> float | None:
    if not rows:
        return None
    model.eval()
    if method == "dpo":
        diffs = [
            completion_logprob(model, tok, r["prompt"], r["chosen"], max_length)
            - completion_logprob(model, tok, r["prompt"], r["rejected"], max_length)
            for r in rows
        ]
        return sum(diffs) / len(diffs)
    good = [completion_logprob(model, tok, r["prompt"], r["completion"], max_length) for r in rows if r["label"]]
    bad = [completion_logprob(model, tok, r["prompt"], r["completion"], max_length) for r in rows if not r["label"]]
    if not good or not bad:
        return None
    return sum(good) / len(good) - sum(bad) / len(bad)


def _eval_rows(o: TrainOptions, rows: list[dict[str, Any]]) -> tuple[list[dict], list[dict], str]:
    from feedback.export import eval_path

    ev_file = o.eval_data or (eval_path(o.data) if eval_path(o.data).is_file() else None)
    if ev_file:
        ev = load_rows(ev_file)
        return rows, ev, str(ev_file)
    train_rows, ev = split(rows, o.holdout)
    return train_rows, ev, f"{len(ev)} rows split off {o.data.name}"


def train(o: TrainOptions) -> dict[str, Any]:
    if o.method not in ("kto", "dpo"):
        raise SpecbotError(f"unknown method {o.method!r} (kto or dpo)")
    if not 1 <= o.rank <= MAX_RANK:
        raise SpecbotError(f"--rank must be 1..{MAX_RANK} (vLLM serves adapters up to --max-lora-rank {MAX_RANK})")
    if o.method == "kto" and o.batch_size < 2:
        raise SpecbotError("KTO needs --batch-size >= 2 (it estimates the KL term from mismatched pairs in a batch)")
    if o.steps < 1:
        raise SpecbotError("--steps must be >= 1")
    rows = check_rows(o.method, load_rows(o.data), str(o.data))
    train_rows, eval_rows, eval_src = _eval_rows(o, rows)
    train_rows = check_rows(o.method, train_rows, f"{o.data} (after the held-out split)")

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(o.seed)
    base = resolve_base(o.base)
    _say(f"loading base model {base} …")
    try:
        tok = AutoTokenizer.from_pretrained(str(base))
        cuda = torch.cuda.is_available()
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.bfloat16 if cuda else torch.float32)
    except OSError as e:
        raise SpecbotError(f"cannot load base model {base}: {e}") from None
    if cuda:
        model.to("cuda")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token

    _say(f"scoring {len(eval_rows)} held-out rows before training ({eval_src}) …")
    before = margin(o.method, model, tok, eval_rows, o.max_length)

    out = o.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    common = dict(
        output_dir=str(out / "trainer"),
        max_steps=o.steps,
        per_device_train_batch_size=o.batch_size,
        gradient_accumulation_steps=1,
        learning_rate=o.lr,
        lr_scheduler_type="constant",
        max_length=o.max_length,
        beta=o.beta,
        seed=o.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        bf16=cuda,
        use_cpu=not cuda,
        disable_tqdm=not o.progress,
        dataloader_num_workers=0,
    )
    peft_config = LoraConfig(
        r=o.rank, lora_alpha=2 * o.rank, lora_dropout=0.05, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"
    )
    # Only the columns the trainer knows: the export also marks where a pair came from ("source").
    keep = ("prompt", "completion", "label") if o.method == "kto" else ("prompt", "chosen", "rejected")
    ds = Dataset.from_list([{k: r[k] for k in keep} for r in train_rows])
    if o.method == "kto":
        from trl import KTOConfig, KTOTrainer

        trainer: Any = KTOTrainer(
            model=model, args=KTOConfig(**common), train_dataset=ds, processing_class=tok, peft_config=peft_config
        )
    else:
        from trl import DPOConfig, DPOTrainer

        trainer = DPOTrainer(
            model=model, args=DPOConfig(**common), train_dataset=ds, processing_class=tok, peft_config=peft_config
        )
    _say(f"training {o.method.upper()} LoRA r={o.rank} on {len(train_rows)} rows for {o.steps} steps …")
    t0 = time.perf_counter()
    # transformers prints its log dicts on stdout; stdout is for the report (--json).
    with contextlib.redirect_stdout(sys.stderr):
        result = trainer.train()
    wall = time.perf_counter() - t0
    loss = float(result.training_loss)
    if not math.isfinite(loss):
        raise SpecbotError(f"training diverged (loss {loss}); try a lower --lr")

    trainer.model.save_pretrained(str(out))
    name = o.name or out.name
    _say(f"scoring {len(eval_rows)} held-out rows after training …")
    after = margin(o.method, trainer.model, tok, eval_rows, o.max_length)
    what = "chosen - rejected" if o.method == "dpo" else "desirable - undesirable"
    note = None
    if before is None:
        note = "no held-out rows with both sides: margin not measured (export with --holdout, or more feedback)"
    report = {
        "method": o.method,
        "base": str(base),
        "adapter_path": str(out),
        "adapter_name": name,
        "rank": o.rank,
        "train_rows": len(train_rows),
        "steps": int(result.global_step),
        "train_loss": loss,
        "train_s": wall,
        "s_per_step": wall / max(1, int(result.global_step)),
        "eval": {"what": what, "n": len(eval_rows), "before": before, "after": after, "note": note},
        "data": str(o.data.resolve()),
    }
    (out / "specbot_adapter.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report
