# FindCAF.cmake: the C++ Actor Framework 0.17 as Debian packages it.
#
# Debian's libcaf-dev ships headers and unversioned .so links but neither a
# CMake package config nor a pkg-config file, so we look for them ourselves.
#
# Imported targets:
#   CAF::core     libcaf_core (+ Threads::Threads)
#   CAF::io       libcaf_io (+ CAF::core)
#   CAF::openssl  libcaf_openssl (+ CAF::io, OpenSSL::SSL), when requested and found
#
# Result variables: CAF_FOUND, CAF_VERSION, CAF_INCLUDE_DIR, CAF_<comp>_FOUND.
#
# Usage: find_package(CAF 0.17 REQUIRED COMPONENTS core io [openssl])

include(CMakeFindDependencyMacro)
find_package(Threads REQUIRED)

find_path(CAF_INCLUDE_DIR NAMES caf/config.hpp)

if(CAF_INCLUDE_DIR)
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_define
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX MATCH "[0-9]+" _caf_version_number "${_caf_version_define}")
  if(_caf_version_number)
    math(EXPR _caf_major "${_caf_version_number} / 10000")
    math(EXPR _caf_minor "(${_caf_version_number} / 100) % 100")
    math(EXPR _caf_patch "${_caf_version_number} % 100")
    set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
  endif()
endif()

foreach(_caf_component IN ITEMS core io openssl)
  find_library(CAF_${_caf_component}_LIBRARY NAMES caf_${_caf_component})
  if(CAF_${_caf_component}_LIBRARY)
    set(CAF_${_caf_component}_FOUND TRUE)
  else()
    set(CAF_${_caf_component}_FOUND FALSE)
  endif()
endforeach()

if(openssl IN_LIST CAF_FIND_COMPONENTS AND CAF_openssl_FOUND)
  find_package(OpenSSL QUIET COMPONENTS SSL)
  if(NOT OpenSSL_FOUND)
    set(CAF_openssl_FOUND FALSE)
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR CAF_core_LIBRARY
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS)

if(CAF_FOUND AND NOT TARGET CAF::core)
  add_library(CAF::core UNKNOWN IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_core_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  if(CAF_io_FOUND)
    add_library(CAF::io UNKNOWN IMPORTED)
    set_target_properties(CAF::io PROPERTIES
      IMPORTED_LOCATION "${CAF_io_LIBRARY}"
      INTERFACE_LINK_LIBRARIES CAF::core)
  endif()
  if(CAF_openssl_FOUND AND TARGET OpenSSL::SSL)
    add_library(CAF::openssl UNKNOWN IMPORTED)
    set_target_properties(CAF::openssl PROPERTIES
      IMPORTED_LOCATION "${CAF_openssl_LIBRARY}"
      INTERFACE_LINK_LIBRARIES "CAF::io;OpenSSL::SSL")
  endif()
endif()

mark_as_advanced(CAF_INCLUDE_DIR CAF_core_LIBRARY CAF_io_LIBRARY CAF_openssl_LIBRARY)
