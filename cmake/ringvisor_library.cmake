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
endfunction()
