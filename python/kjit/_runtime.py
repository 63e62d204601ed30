"""The process-wide Jit and the memory cache of compiled kernels.

A kjit.torch call looks its kernel up here by a key of plain Python values
(op, shapes, attributes, threads): a hit costs a dict lookup, and neither
MLIR text nor the C++ compile path is touched. A miss builds the op's MLIR
text and compiles it (kjit's own memory and disk caches, tuning database and
KJIT_TUNE apply there)."""
import contextlib
import threading

from . import _kjit

_lock = threading.Lock()
_jit = None
_kernels = {}
_memos = []  # kjit.torch's per-metadata memos, which may hold kernels
_watch = threading.local()  # this thread's watch_lookups() state


def register_memo(memo):
    """A dict kernel_cache_clear() empties too; returns it."""
    _memos.append(memo)
    return memo


def jit():
    """The process-wide kjit._kjit.Jit for the host CPU (created on first
    use; KJIT_CACHE_DIR, KJIT_TUNING_DB and KJIT_TUNE are read then)."""
    global _jit
    if _jit is None:
        with _lock:
            if _jit is None:
                _jit = _kjit.Jit()
    return _jit


def compile_module(mlir_text, config="", threads=0, tune_seconds=-1.0):
    """Compiles a module of kjit ops; see kjit._kjit.Jit.compile_module."""
    return jit().compile_module(mlir_text, config=config, threads=threads,
                                tune_seconds=tune_seconds)


def cached_kernel(key, build_mlir, threads, config="", tune_seconds=-1.0):
    """The kernel for `key`, compiled from build_mlir() on the first call.

    `key` must hold everything the MLIR text and the compile options depend
    on (the op, its shapes and attributes, threads, config)."""
    watch = getattr(_watch, "state", None)
    if watch is not None:
        return _watched_lookup(watch, key, build_mlir, threads, config,
                               tune_seconds)
    k = _kernels.get(key)
    if k is not None:
        return k
    k = compile_module(build_mlir(), config=config, threads=threads,
                       tune_seconds=tune_seconds)
    with _lock:
        return _kernels.setdefault(key, k)


def _watched_lookup(watch, key, build_mlir, threads, config, tune_seconds):
    seen, budget = watch
    _watch.state = None  # the plain lookup below
    try:
        if budget is None:
            k = cached_kernel(key, build_mlir, threads, config, tune_seconds)
        else:
            k = compile_module(build_mlir(), config=config, threads=threads,
                               tune_seconds=budget)
            k.wait_for_tuning(2 * budget + 30)
            with _lock:
                _kernels[key] = k
    finally:
        _watch.state = watch
    seen.append((key, k))
    return k


@contextlib.contextmanager
def watch_lookups(tune_seconds=None):
    """Within the block, this thread's kernel lookups are appended to the
    yielded list as (key, kernel); the per-metadata memos are emptied first
    so that every op call looks its kernel up. With tune_seconds, each
    lookup compiles afresh with that on-line tuning budget, waits for the
    tuning to end and replaces the cached kernel (later calls run the best
    code). Other threads' lookups are not affected."""
    seen = []
    clear_memos()
    previous = getattr(_watch, "state", None)
    _watch.state = (seen, tune_seconds)
    try:
        yield seen
    finally:
        _watch.state = previous


def cached_kernels():
    """(key, kernel) of every kernel compiled so far in this process."""
    with _lock:
        return list(_kernels.items())


def clear_memos():
    """Empties kjit.torch's per-metadata memos (kernels stay cached): the
    next call of each op looks its kernel up through cached_kernel again."""
    with _lock:
        for memo in _memos:
            memo.clear()


def kernel_cache_clear():
    """Forgets the compiled kernels (the next call of each op compiles or
    loads from kjit's caches again, and sees new tuning records)."""
    with _lock:
        _kernels.clear()
        for memo in _memos:
            memo.clear()
