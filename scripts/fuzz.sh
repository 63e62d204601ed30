#!/usr/bin/env bash
# Builds kjit's libFuzzer targets (tests/fuzz) into build-fuzz/ and runs
# each in turn, one process at a time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [--runs=N] [--targets=npy,module,hostapi]
#                   [-- LIBFUZZER_ARGS...]
#
# SECONDS_PER_TARGET (default 60) bounds each target's run; --runs=N stops a
# target after N executions instead (e.g. --runs=1000000 for the 1M-run
# check; the time bound is then lifted unless SECONDS is given too).
# Arguments after -- go to every fuzzer (e.g. -max_len=4096).
#
# Build: KJIT_FUZZ=ON (kjit's own code with -fsanitize=fuzzer-no-link,
# address,undefined; MLIR/LLVM and the JIT-compiled kernels uninstrumented),
# only the kjit-fuzz-* targets. Each target starts from a copy of its seeds
# (tests/fuzz/corpus/<target>, plus the .mlir files of tests/lit and
# tests/integration/inputs for module) in build-fuzz/corpus/<target>, where
# new interesting inputs go too (never into the repo); crash, leak, timeout
# and OOM inputs go to build-fuzz/artifacts/<target>/, logs to
# build-fuzz/logs/<target>.log. A crash stops that target's run (libFuzzer
# keeps the input); the others still run. To keep a crash as a regression,
# copy its input to tests/fuzz/corpus/<target>/crash-<what-it-is>: the test
# suite replays it (ctest -R fuzz-replay).
#
# Prints per target the executions, exec/s and crashes; exits 1 when any
# target crashed, 2 on a usage or build error.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${KJIT_FUZZ_BUILD_DIR:-$root/build-fuzz}"

seconds=""
runs=""
targets="npy module hostapi"
extra=()
while (($#)); do
  case "$1" in
    --runs=*) runs="${1#--runs=}" ;;
    --targets=*) targets="${1#--targets=}"; targets="${targets//,/ }" ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]*|"") echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    *) seconds="$1" ;;
  esac
  shift
done
if [ -z "$seconds" ] && [ -z "$runs" ]; then
  seconds=60
fi
for t in $targets; do
  case "$t" in npy|module|hostapi) ;; *)
    echo "fuzz.sh: unknown target '$t' (npy, module, hostapi)" >&2; exit 2 ;;
  esac
done

bash "$root/scripts/setup.sh"
# -O1 and line tables: fast enough to fuzz, readable stacks.
cmake -G Ninja -S "$root" -B "$build" -DKJIT_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DKJIT_BUILD_BENCH=OFF >/dev/null || exit 2
fuzzers=()
for t in $targets; do fuzzers+=("kjit-fuzz-$t"); done
cmake --build "$build" -j "${KJIT_FUZZ_JOBS:-$(nproc)}" --target "${fuzzers[@]}" \
  || exit 2

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [ -x /usr/lib/llvm-22/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-22/bin/llvm-symbolizer
fi
# Kernels the hostapi target compiles stay out of the user's cache.
export KJIT_CACHE_DIR="$build/kernel-cache"
export KJIT_TUNING_DB=off KJIT_TUNE=off

summary=()
failed=0
for t in $targets; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  log="$build/logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  cp -n "$root/tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  args=(-print_final_stats=1 -timeout=60 -rss_limit_mb=4096
        -artifact_prefix="$artifacts/")
  if [ "$t" = module ]; then
    # Each seed under a name of its own (lit and integration inputs share
    # file names).
    while IFS= read -r f; do
      rel="${f#"$root"/tests/}"
      cp -n "$f" "$corpus/seed-${rel//\//-}"
    done < <(find "$root/tests/lit" "$root/tests/integration/inputs" \
               -name '*.mlir' | sort)
    args+=(-dict="$root/tests/fuzz/module.dict")
  fi
  [ -n "$seconds" ] && args+=(-max_total_time="$seconds")
  [ -n "$runs" ] && args+=(-runs="$runs")
  findings() {
    find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' \
      -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l
  }
  before=$(findings)
  echo "fuzz.sh: $t: ${seconds:+${seconds}s}${seconds:+${runs:+, }}${runs:+$runs runs} (log: $log)"
  rc=0
  "$build/tests/fuzz/kjit-fuzz-$t" "${args[@]}" "${extra[@]}" "$corpus" \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=$(( $(findings) - before ))
  if [ "$rc" != 0 ] && [ "$crashes" = 0 ]; then
    crashes=1 # died without leaving an input (e.g. the setup failed)
  fi
  if [ "$crashes" != 0 ]; then
    failed=1
    echo "fuzz.sh: $t: FAILED (exit $rc); the end of $log:"
    grep -E "ERROR|SUMMARY|runtime error|fuzz-[a-z]+:|Test unit written|^    #[0-4] " \
      "$log" | head -20 | sed 's/^/  /'
  fi
  summary+=("$(printf '%-8s %12s execs %10s exec/s %3s crashes' \
    "$t" "${execs:-?}" "${rate:-?}" "$crashes")")
done

echo "fuzz.sh: summary (build $build)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
