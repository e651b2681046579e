# Installs the build tree into a scratch prefix, then configures, builds and
# runs tests/consumer against it: a local supervisor, then the newcomer's
# ring counter, which must count to three. Variables: BUILD_DIR, SOURCE_DIR,
# WORK_DIR.
file(REMOVE_RECURSE "${WORK_DIR}")
foreach(step IN ITEMS
    "${CMAKE_COMMAND};--install;${BUILD_DIR};--prefix;${WORK_DIR}/prefix"
    "${CMAKE_COMMAND};-S;${SOURCE_DIR}/tests/consumer;-B;${WORK_DIR}/build;-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix;-DCMAKE_BUILD_TYPE=Release"
    "${CMAKE_COMMAND};--build;${WORK_DIR}/build"
    "${WORK_DIR}/build/consumer;--ringvisor.log-level=warn")
  execute_process(COMMAND ${step} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer step failed (${rc}): ${step}")
  endif()
endforeach()
execute_process(COMMAND "${WORK_DIR}/build/ring_counter" --ringvisor.log-level=error
                        --ringvisor.port=0
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
if(NOT rc EQUAL 0 OR NOT out STREQUAL "count 1\ncount 2\ncount 3\n")
  message(FATAL_ERROR "ring_counter failed (${rc}): ${out}${err}")
endif()
