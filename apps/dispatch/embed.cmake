# Writes OUT, a C++ file defining `dispatch::index_html` with the text of IN.
file(READ "${IN}" content)
if(content MATCHES "\\)rvweb\"")
  message(FATAL_ERROR "${IN} contains the raw string delimiter )rvweb\"")
endif()
file(WRITE "${OUT}" "// Generated from web/index.html by embed.cmake; do not edit.
#include <string_view>
namespace dispatch {
extern const std::string_view index_html;
const std::string_view index_html = R\"rvweb(${content})rvweb\";
} // namespace dispatch
")
