#!/usr/bin/env bash
# The mutation campaign of docs/mutation.md: cosmic-ray over a copy of reference/, the
# property catalogue (and tests/test_reference.py for oracle/data code) as the killer.
#   mutation/run.sh            prepare, start the killer, run every mutant, report
#   mutation/run.sh --resume   keep the session: run only the mutants without a result
# Needs: pip install -e ".[mutation]"  (cosmic-ray). Single-threaded torch; one mutant at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1
CR="$(dirname "$PY")/cosmic-ray"
[ -x "$CR" ] || CR=cosmic-ray
mkdir -p mutation/.work
start=$(date +%s)
if [ "${1:-}" != "--resume" ]; then
    "$PY" -m mutation prepare
fi
rm -f mutation/.work/killer.ready
"$PY" -m mutation serve > mutation/.work/server.out 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
echo "killer server $server: baseline (the unmutated reference must pass everything) ..."
while [ ! -e mutation/.work/killer.ready ]; do
    if ! kill -0 "$server" 2>/dev/null; then cat mutation/.work/server.out; echo "killer server failed" >&2; exit 1; fi
    sleep 2
done
cat mutation/.work/killer.ready; echo
"$CR" exec mutation/cosmic-ray.toml mutation/.work/session.sqlite
"$PY" -m mutation stop || true
wait "$server" || true
trap - EXIT
end=$(date +%s)
wall="$(( (end - start) / 60 )) min $(( (end - start) % 60 )) s"
echo "wall time: $wall"
"$PY" -m mutation report --wall "$wall"
