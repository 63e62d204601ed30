# KJIT_SANITIZE: a sanitizer build of kjit's own runtime and autotune code
# and of the tests that drive it (scripts/sanitize.sh configures and runs it).
#
#   -DKJIT_SANITIZE=address,undefined   ASan + UBSan (a UBSan finding aborts)
#   -DKJIT_SANITIZE=thread              TSan
#
# Only the targets passed to kjit_sanitize() are instrumented: libkjit, the
# tuning libraries and the unit/integration test executables. The dialect and
# compiler libraries, libMLIR/libLLVM, libomp and the JIT-compiled kernels
# stay plain; that keeps the build small, and the sanitizers still see every
# access our runtime code makes (ASan intercepts malloc/free everywhere).
set(KJIT_SANITIZE "" CACHE STRING
    "Instrument kjit's runtime, autotune and tests: address,undefined | thread")

set(KJIT_SANITIZE_COMPILE_OPTIONS "")
set(KJIT_SANITIZE_LINK_OPTIONS "")
if(KJIT_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KJIT_SANITIZE needs clang (found ${CMAKE_CXX_COMPILER_ID})")
  endif()
  string(REPLACE "," ";" _kjit_sanitizers "${KJIT_SANITIZE}")
  foreach(_s IN LISTS _kjit_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "KJIT_SANITIZE: unknown sanitizer '${_s}' "
                          "(use address,undefined or thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _kjit_sanitizers AND "address" IN_LIST _kjit_sanitizers)
    message(FATAL_ERROR "KJIT_SANITIZE: thread and address cannot be combined; "
                        "build them in two build directories")
  endif()
  set(_kjit_fsan "-fsanitize=${KJIT_SANITIZE}")
  set(KJIT_SANITIZE_LINK_OPTIONS ${_kjit_fsan})
  # -O1 and line tables: sanitized code fast enough for the tests, reports
  # with file:line, and a much quicker build than -O3 -g.
  set(KJIT_SANITIZE_COMPILE_OPTIONS ${_kjit_fsan} -fno-omit-frame-pointer
      -O1 -gline-tables-only)
  if("undefined" IN_LIST _kjit_sanitizers)
    # A UBSan finding must fail the test, not print and go on. -fsanitize=
    # function is left out: it reads a type signature just before every
    # function called through a pointer, and our calls into JIT-compiled
    # kernels (and into libLLVM/libMLIR) reach code that has none, at the
    # start of a mapping for the JIT's code.
    list(APPEND KJIT_SANITIZE_COMPILE_OPTIONS -fno-sanitize-recover=all
         -fno-sanitize=function)
  endif()
  message(STATUS "kjit: sanitizers ${KJIT_SANITIZE} on the runtime, autotune and tests")
endif()

# Instruments the given targets. The link options are PUBLIC (INTERFACE for
# a static library): libkjit.so and the static tuning libraries leave the
# sanitizer runtime to the executable, so whatever links them (kjit-run,
# kjit-tune, examples, a user's program) must link it too.
function(kjit_sanitize)
  if(NOT KJIT_SANITIZE)
    return()
  endif()
  foreach(_t IN LISTS ARGN)
    target_compile_options(${_t} PRIVATE ${KJIT_SANITIZE_COMPILE_OPTIONS})
    get_target_property(_type ${_t} TYPE)
    if(_type STREQUAL "STATIC_LIBRARY")
      target_link_options(${_t} INTERFACE ${KJIT_SANITIZE_LINK_OPTIONS})
    else()
      target_link_options(${_t} PUBLIC ${KJIT_SANITIZE_LINK_OPTIONS})
    endif()
  endforeach()
endfunction()
