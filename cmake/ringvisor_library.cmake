# ringvisor_add_library(NAME SOURCES ... DEPENDS ...)
#
# Declares the library ringvisor_<NAME> with alias ringvisor::<NAME>, its
# generated export header ringvisor/<NAME>/export.hpp and its installed headers.
function(ringvisor_add_library name)
  cmake_parse_arguments(arg "" "" "SOURCES;PUBLIC_DEPENDS;PRIVATE_DEPENDS" ${ARGN})
  set(target ringvisor_${name})
  add_library(${target} ${arg_SOURCES})
  add_library(ringvisor::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME ringvisor_${name})
  string(TOUPPER ${name} upper)
  generate_export_header(${target}
    BASE_NAME RINGVISOR_${upper}
    EXPORT_FILE_NAME "${CMAKE_CURRENT_BINARY_DIR}/include/ringvisor/${name}/export.hpp")
  if(NOT BUILD_SHARED_LIBS)
    target_compile_definitions(${target} PUBLIC RINGVISOR_${upper}_STATIC_DEFINE)
  endif()
  target_include_directories(${target} PUBLIC
    "$<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>"
    "$<BUILD_INTERFACE:${CMAKE_CURRENT_BINARY_DIR}/include>"
    "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
  target_include_directories(${target} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/src")
  target_link_libraries(${target} PUBLIC ${arg_PUBLIC_DEPENDS} PRIVATE ${arg_PRIVATE_DEPENDS}
    $<BUILD_INTERFACE:ringvisor_warnings>)
  target_compile_features(${target} PUBLIC cxx_std_17)
  install(DIRECTORY include/ "${CMAKE_CURRENT_BINARY_DIR}/include/"
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  if(RINGVISOR_CHECK_HEADERS)
    ringvisor_check_headers(${name})
  endif()
endfunction()

# ringvisor_check_headers(NAME)
#
# Compiles each public header of ringvisor_<NAME> on its own (an object
# library, ringvisor_<NAME>_headers): a header that needs another one it
# does not include fails the build.
function(ringvisor_check_headers name)
  set(target ringvisor_${name})
  file(GLOB_RECURSE headers RELATIVE "${CMAKE_CURRENT_SOURCE_DIR}/include"
    "${CMAKE_CURRENT_SOURCE_DIR}/include/*.hpp")
  set(sources)
  foreach(header IN LISTS headers)
    string(MAKE_C_IDENTIFIER "${header}" stem)
    set(source "${CMAKE_CURRENT_BINARY_DIR}/header_check/${stem}.cpp")
    file(CONFIGURE OUTPUT "${source}" CONTENT "#include \"${header}\"\n")
    list(APPEND sources "${source}")
  endforeach()
  add_library(${target}_headers OBJECT ${sources})
  target_link_libraries(${target}_headers PRIVATE ${target} ringvisor_warnings)
endfunction()
