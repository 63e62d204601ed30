# cmake -P script behind the kjit-install-consumer test.
function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${name}: ok")
  set(STEP_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${KJIT_WORK_DIR}/prefix)
set(build ${KJIT_WORK_DIR}/build)
file(REMOVE_RECURSE ${KJIT_WORK_DIR})
file(MAKE_DIRECTORY ${KJIT_WORK_DIR})

run_step("install" ${CMAKE_COMMAND} --install ${KJIT_BUILD_DIR} --prefix ${prefix})
foreach(f include/kjit/kjit.h include/kjit/npy.h lib/cmake/kjit/kjitConfig.cmake
          lib/cmake/kjit/kjitTargets.cmake bin/kjit-run)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "install did not produce ${prefix}/${f}")
  endif()
endforeach()
# The public headers must not need MLIR or LLVM.
file(GLOB headers ${prefix}/include/kjit/*.h)
foreach(h ${headers})
  file(STRINGS ${h} bad REGEX "#include [<\"](mlir|llvm)/")
  if(bad)
    message(FATAL_ERROR "${h} includes MLIR/LLVM: ${bad}")
  endif()
endforeach()

run_step("configure consumer" ${CMAKE_COMMAND} -G ${KJIT_GENERATOR}
  -S ${KJIT_CONSUMER_SOURCE} -B ${build}
  -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_CXX_COMPILER=${KJIT_CXX_COMPILER}
  -DCMAKE_C_COMPILER=${KJIT_C_COMPILER}
  -DCMAKE_BUILD_TYPE=Release)
run_step("build consumer" ${CMAKE_COMMAND} --build ${build})
# A private cache dir keeps the run from touching the user's cache.
run_step("run consumer" ${CMAKE_COMMAND} -E env
  KJIT_CACHE_DIR=${KJIT_WORK_DIR}/cache ${build}/kjit-install-consumer)
message(STATUS "${STEP_OUTPUT}")
run_step("run installed kjit-run --help" ${prefix}/bin/kjit-run --help)
