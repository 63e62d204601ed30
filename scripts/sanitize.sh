#!/usr/bin/env bash
# Sanitizer runs: scripts/sanitize.sh [asan|tsan|all]   (default: all)
#
#   asan  build-asan/ (-DKJIT_SANITIZE=address,undefined): the unit and
#         integration tests (ctest labels unit, integration and cli: the
#         GoogleTest programs, kjit-tune's CLI tests and kjit_run_test.py's
#         runs of kjit-run).
#   tsan  build-tsan/ (-DKJIT_SANITIZE=thread): the kernel cache, run-time
#         selection, on-line tuning and tuning database tests, the ones whose
#         code runs on several threads (the -R filter below).
#
# Lean on purpose (CI has 2 cores): only libkjit, the tuning libraries
# (autotune/) and the test programs are instrumented, at -O1. The dialect and
# compiler libraries, libMLIR/libLLVM, libomp and the JIT-compiled kernels
# stay uninstrumented (cmake/KjitSanitize.cmake). kjit-run and kjit-tune are
# thin mains left plain, but they link the instrumented libkjit and tuning
# libraries and the sanitizer runtime, so the Python-driven kjit-run tests
# and the measurer's child processes (this build's kjit-tune, always) run
# sanitized too.
#
# A finding fails at once (halt_on_error, UBSan without recovery) and is also
# written to <build>/sanitizer-logs/, which catches the reports of child
# processes and of tests that expect a failure: any file there fails the run.
# Exit status: 0 when every selected run is clean.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mode="${1:-all}"
case "$mode" in
  asan | tsan | all) ;;
  *)
    echo "usage: $0 [asan|tsan|all]" >&2
    exit 2
    ;;
esac

bash "$root/scripts/setup.sh"
jobs="$(nproc)"
symbolizer=/usr/lib/llvm-22/bin/llvm-symbolizer
lsan_supp="$root/scripts/lsan.supp"
tsan_supp="$root/scripts/tsan.supp"

# The test programs of each run (the gtest ones also list their tests at
# build time, already under the sanitizer).
asan_targets=(kjit-runtime-tests kjit-unit-cache-helper kjit-autotune-tests
  kjit-selection-tests kjit-offline-tuner-tests kjit-online-tuning-tests
  kjit-tune kjit-run kjit_conv_numerics_test kjit_window_attention_test
  kjit_longconv_test kjit_spmm_test kjit_spgemm_test
  kjit_openmp_coexistence_test)
tsan_targets=(kjit-runtime-tests kjit-unit-cache-helper kjit-selection-tests
  kjit-online-tuning-tests kjit-autotune-tests)
# Suites: KernelCache (threads compiling at once, two processes on one
# directory), KernelUnload (code swapped and unloaded under a running
# caller), Selection*, OnlineTuningTest/TuneSpec (the background tuner
# and the kernel swap under callers), Confirm/InputData (the tuner's
# measurements as on-line tuning runs them), Database (two writers at once).
tsan_filter='^(KernelCache|KernelUnload|SelectionTest|SelectionDistance|OnlineTuningTest|TuneSpec|Confirm|InputData|Database)\.'

declare -A result

# run_one NAME SANITIZERS BUILD_DIR CTEST_ARGS...
run_one() {
  local name="$1" sanitizers="$2" build="$3"
  shift 3
  local targets_var="${name}_targets[@]"
  local logs="$build/sanitizer-logs"
  local start=$SECONDS
  echo "sanitize: $name: configuring $build (KJIT_SANITIZE=$sanitizers)"
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DKJIT_SANITIZE="$sanitizers" -DKJIT_BUILD_BENCH=OFF >/dev/null
  rm -rf "$logs"
  mkdir -p "$logs"
  # Set before the build too: gtest_discover_tests runs the programs then.
  # print_suppressions=0: a matched suppression is not a finding, and its
  # statistics would otherwise land in the log directory.
  local common="halt_on_error=1:print_stacktrace=1:print_suppressions=0:external_symbolizer_path=$symbolizer"
  export UBSAN_OPTIONS="$common:log_path=$logs/ubsan"
  # detect_odr_violation=1: the test programs and kjit-tune link the tuning
  # libraries statically beside libkjit.so, which holds its own copy (see
  # autotune/CMakeLists.txt); those are the same objects twice, bound to one
  # copy by the dynamic linker. Level 1 still reports two definitions of a
  # global that differ in size, a real ODR violation.
  export ASAN_OPTIONS="$common:log_path=$logs/asan:detect_leaks=1:detect_odr_violation=1"
  export LSAN_OPTIONS="suppressions=$lsan_supp"
  export TSAN_OPTIONS="$common:log_path=$logs/tsan:second_deadlock_stack=1:suppressions=$tsan_supp"
  echo "sanitize: $name: building ${!targets_var}"
  cmake --build "$build" -j "$jobs" --target "${!targets_var}"
  local built=$SECONDS
  export KJIT_CACHE_DIR="$build/test-kernel-cache"
  local rc=0
  (cd "$build" && ctest -j "$jobs" --output-on-failure --timeout 900 "$@") || rc=$?
  local reports
  reports="$(find "$logs" -type f | wc -l)"
  if ((reports > 0)); then
    echo "sanitize: $name: $reports sanitizer report(s):"
    for f in "$logs"/*; do
      echo "--- $f"
      head -n 40 "$f"
    done
  fi
  local status=clean
  if ((rc != 0 || reports > 0)); then
    status="FAILED (ctest exit $rc, $reports report(s) in $logs)"
  fi
  result[$name]="$status; build $((built - start))s, tests $((SECONDS - built))s"
  unset UBSAN_OPTIONS ASAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS
}

if [[ $mode == asan || $mode == all ]]; then
  run_one asan address,undefined "${KJIT_ASAN_BUILD_DIR:-$root/build-asan}" \
    -L '^(unit|integration|cli)$'
fi
if [[ $mode == tsan || $mode == all ]]; then
  run_one tsan thread "${KJIT_TSAN_BUILD_DIR:-$root/build-tsan}" \
    -R "$tsan_filter"
fi

echo "sanitize: summary"
failed=0
for name in asan tsan; do
  [[ -n ${result[$name]:-} ]] || continue
  echo "  $name: ${result[$name]}"
  [[ ${result[$name]} == clean* ]] || failed=1
done
exit "$failed"
