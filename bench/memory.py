"""Peak memory of one process, shared by bench/parse.py and the parser's memory test."""

from __future__ import annotations

# Peak RSS of this process only. ru_maxrss is inherited across fork/exec on Linux,
# so a child started by a big parent would report the parent's peak; VmHWM is not.
# Kept as source text so a fresh `python -c` child can run the same helper.
HWM_SRC = (
    "def hwm():\n"
    "    try:\n"
    "        for line in open('/proc/self/status'):\n"
    "            if line.startswith('VmHWM:'):\n"
    "                return int(line.split()[1]) / 1024\n"
    "    except OSError:\n"
    "        pass\n"
    "    import resource\n"
    "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
)
_ns: dict = {}
exec(HWM_SRC, _ns)  # same helper in this process and in the child
hwm = _ns["hwm"]
