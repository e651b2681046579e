# ringvisor_warnings: an interface target with the project's warning flags.
# Link it PRIVATE; global flags stay untouched.
add_library(ringvisor_warnings INTERFACE)
target_compile_options(ringvisor_warnings INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>)
if(RINGVISOR_WARNINGS_AS_ERRORS)
  target_compile_options(ringvisor_warnings INTERFACE $<$<CXX_COMPILER_ID:GNU,Clang>:-Werror>)
endif()
