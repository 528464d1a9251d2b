#!/usr/bin/env bash
# propgrade on a machine with CUDA, in one command (its CUDA paths are never exercised elsewhere):
#   1. the test suite, where the CUDA properties and tests run instead of being skipped;
#   2. the corpus (submissions/correct, submissions/buggy) graded with --device cuda and with --device cpu:
#      every property's verdict must be the same both ways, and the CUDA properties must have run on cuda;
#   3. the cold path on CUDA: benchmarks/cold.py --device cuda (grade and check in fresh processes).
# Fails at once, saying so, where torch sees no CUDA device.
#
#   benchmarks/gpu_check.sh            (from the repository root; PYTHON=..., JOBS=..., OUT=... to change)
# Exit status: 0 all held, 1 a step failed, 2 no CUDA here. Logs and results go to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
OUT="${OUT:-gpu-check-out}"
mkdir -p "$OUT"

if ! "$PYTHON" - <<'EOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit(f"gpu_check.sh: torch {torch.__version__} sees no CUDA device here (torch.cuda.is_available() is False; "
             f"built for CUDA {torch.version.cuda}). Run this on a machine with an NVIDIA GPU, its driver, and a CUDA build of torch.")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} device(s): {torch.cuda.get_device_name(0)}")
EOF
then
    exit 2
fi

failed=0
step() { echo; echo "== $*"; }

step "1/3 test suite (logs: $OUT/pytest.log)"
if OMP_NUM_THREADS=1 "$PYTHON" -m pytest -q -n "$JOBS" -rs tests 2>&1 | tee "$OUT/pytest.log" | tail -n 25; then
    grep -iE "skipped.*cuda" "$OUT/pytest.log" && { echo "tests skipped for want of CUDA on a CUDA machine"; failed=1; } || true
else
    failed=1
fi

step "2/3 the corpus graded on cuda and on cpu, verdicts compared"
for device in cuda cpu; do
    # exit 0: graded; 3: a submission was not gradable (the grader failed), which fails this check too
    OMP_NUM_THREADS=1 "$PYTHON" -m grader.cli grade submissions/correct submissions/buggy --device "$device" --profile ci \
        -j "$JOBS" --regrade --out "$OUT/corpus-$device" > "$OUT/corpus-$device.log" 2>&1 || { echo "grading on $device failed: $OUT/corpus-$device.log"; failed=1; }
done
"$PYTHON" - "$OUT/corpus-cuda" "$OUT/corpus-cpu" <<'EOF' || failed=1
import json
import sys
from pathlib import Path

from grader.properties import CATALOGUE

cuda_only = {pid for pid, prop in CATALOGUE.items() if prop.cuda}


def verdicts(folder: str) -> dict[str, dict]:
    found = {}
    for path in sorted(Path(folder).glob("*/results.json")):
        record = json.loads(path.read_text(encoding="utf-8"))["extra_data"]["propgrade"]
        found[record["id"]] = {"status": record["status"], **{p["id"]: p["verdict"] for p in record["properties"]}}
    return found


on_cuda, on_cpu = verdicts(sys.argv[1]), verdicts(sys.argv[2])
problems = [f"{sid}: graded on one device only" for sid in sorted(set(on_cuda) ^ set(on_cpu))]
for sid in sorted(set(on_cuda) & set(on_cpu)):
    for key in sorted(set(on_cuda[sid]) | set(on_cpu[sid])):
        gpu, cpu = on_cuda[sid].get(key), on_cpu[sid].get(key)
        if key in cuda_only:
            if gpu == "skipped":
                problems.append(f"{sid}: {key} was skipped on cuda")
        elif gpu != cpu:
            problems.append(f"{sid}: {key} is {gpu} on cuda, {cpu} on cpu")
print(f"{len(on_cuda)} submissions, {len(CATALOGUE)} properties ({', '.join(sorted(cuda_only))} on cuda only)")
print("\n".join(problems) or "same verdicts on cuda and cpu")
sys.exit(1 if problems else 0)
EOF

step "3/3 cold path on cuda"
"$PYTHON" benchmarks/cold.py --device cuda --rounds 3 | tee "$OUT/cold-cuda.txt" || failed=1

echo
if [ "$failed" -ne 0 ]; then
    echo "gpu_check.sh: FAILED (see above and $OUT/)"
    exit 1
fi
echo "gpu_check.sh: all held"
