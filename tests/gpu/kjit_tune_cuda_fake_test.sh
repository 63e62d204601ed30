#!/usr/bin/env bash
# kjit-tune --target=cuda end to end on the fake driver, and run-time
# selection (kjit-run --target=cuda, a Jit on Target::cuda) of what it
# recorded. The fake's events report 1 us per thread of the launched block
# (KJIT_FAKE_CUDA_TIME=block), so the default (512 threads) is slower than
# the cost model's 64-thread picks and the winner is not the default.
#  1. kjit-tune measures in its worker on the "GPU"; every record is filed
#     under the GPU's key (name, compute capability, SMs, driver version);
#     the recorded times are the fake's event times.
#  2. kjit-run --target=cuda selects the best record's config ("tuned").
#  3. After a driver update (another key) nothing is served ("default"),
#     and kjit-tune seeds its search with the old driver's winner.
#  4. Errors: no driver, no such device, a bad --target, --target=sm_NN
#     without --dry-run, --threads with a GPU.
# Args: KJIT_TUNE KJIT_RUN FAKE_DRIVER MLIR
set -euo pipefail
TUNE=$1 RUN=$2 FAKE=$3 MLIR=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KJIT_CACHE_DIR="$tmp/cache"
KEY="cuda;kjit fake GPU;cc=90;sms=132;driver=13000"
fake=(env KJIT_CUDA_DRIVER="$FAKE" KJIT_FAKE_CUDA_LAUNCH_OK=1
      KJIT_FAKE_CUDA_TIME=block)

out=$("${fake[@]}" "$TUNE" "$MLIR" --target=cuda --db="$tmp/t.sqlite" \
      --top-k=3 --repeats=3 --plot="$tmp" --export="$tmp/e.jsonl")
echo "$out"
grep -qF "target: $KEY (sm_90)" <<<"$out"
# The records: all under the GPU key, ok, with the fake's event times; the
# best (fastest, then first) is a 64-thread config, not the default.
best=$(/usr/bin/python3 - "$tmp/e.jsonl" "$KEY" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(recs) >= 4, len(recs)  # the default + 3 candidates
for r in recs:
    assert r["target_key"] == sys.argv[2], r["target_key"]
    assert r["status"] == "ok", r
    threads = int(r["config"].split("threads = ")[1].split(" ")[0])
    assert abs(r["median_s"] - threads * 1e-6) < 1e-9, (r["median_s"], threads)
assert "threads = 512" in recs[0]["config"], recs[0]["config"]  # the default
best = min(range(len(recs)), key=lambda i: (recs[i]["median_s"], i))
assert "threads = 64" in recs[best]["config"], recs[best]["config"]
print(recs[best]["config"])
EOF
)
echo "best: $best"
grep -qF "best: $best" <<<"$out"

# Run-time selection of that record on the GPU (kjit-run needs no inputs
# to print the configs: it fails later on the missing --input).
sel=$("${fake[@]}" "$RUN" "$MLIR" --target=cuda --tuning-db="$tmp/t.sqlite" \
      --print-configs 2>&1 || true)
echo "$sel"
grep -qF "config 0: $best (tuned)" <<<"$sel"

# A new driver: the old winner is not served, but seeds the new search.
sel=$(KJIT_FAKE_CUDA_DRIVER_VERSION=13010 "${fake[@]}" "$RUN" "$MLIR" \
      --target=cuda --tuning-db="$tmp/t.sqlite" --print-configs 2>&1 || true)
echo "$sel"
grep -q "config 0: .*threads = 512.* (default)" <<<"$sel"
out=$(KJIT_FAKE_CUDA_DRIVER_VERSION=13010 "${fake[@]}" "$TUNE" "$MLIR" \
      --target=cuda --db="$tmp/t.sqlite" --top-k=1 --repeats=1 --plot="$tmp")
echo "$out"
grep -qF "target: cuda;kjit fake GPU;cc=90;sms=132;driver=13010 (sm_90)" <<<"$out"
grep -q "seeded with [1-9][0-9]* config(s) from other targets/compilers" <<<"$out"

# Errors: one clear line and an exit code each.
expect_fail() { # CODE PATTERN CMD...
  local code=$1 pat=$2 rc=0
  shift 2
  err=$("$@" 2>&1) || rc=$?
  echo "$err"
  if [ "$rc" -ne "$code" ]; then
    echo "expected exit code $code, got $rc"; exit 1
  fi
  grep -qF -- "$pat" <<<"$err"
}
expect_fail 1 "kjit-tune: --target=cuda: no CUDA driver: cannot load libkjit-no-such-cuda.so.1" \
  env KJIT_CUDA_DRIVER=libkjit-no-such-cuda.so.1 "$TUNE" "$MLIR" \
  --target=cuda --db="$tmp/n.sqlite"
expect_fail 1 "kjit-tune: --target=cuda:1: CUDA device 1 does not exist" \
  "${fake[@]}" "$TUNE" "$MLIR" --target=cuda:1 --db="$tmp/n.sqlite"
expect_fail 2 "expected cuda or cuda:N" \
  "${fake[@]}" "$TUNE" "$MLIR" --target=cuda:x --db="$tmp/n.sqlite"
expect_fail 2 "use --target=cuda (or cuda:N) to measure on a GPU" \
  "$TUNE" "$MLIR" --target=sm_90 --db="$tmp/n.sqlite"
expect_fail 2 "--threads is for the host target" \
  "${fake[@]}" "$TUNE" "$MLIR" --target=cuda --threads=2 --db="$tmp/n.sqlite"
[ ! -e "$tmp/n.sqlite" ]
echo PASS
