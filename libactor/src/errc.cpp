#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/types.hpp"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include <cxxabi.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/message.hpp>
#include <caf/uniform_type_info_map.hpp>

namespace ringvisor::actor {

std::string to_string(errc x) {
  switch (x) {
    case errc::unknown_child_type:
      return "unknown_child_type";
    case errc::bad_child_args:
      return "bad_child_args";
    case errc::duplicate_child_type:
      return "duplicate_child_type";
    case errc::bad_config:
      return "bad_config";
    case errc::bad_state:
      return "bad_state";
    case errc::node_start_failed:
      return "node_start_failed";
    case errc::name_taken:
      return "name_taken";
    case errc::not_registered:
      return "not_registered";
    case errc::authentication_failed:
      return "authentication_failed";
    case errc::member_down:
      return "member_down";
    case errc::peer_overloaded:
      return "peer_overloaded";
    case errc::frame_too_large:
      return "frame_too_large";
  }
  return "errc(" + std::to_string(static_cast<int>(x)) + ")";
}

namespace {

std::string render_with(const std::string& prefix, std::string name,
                        const caf::message& context) {
  auto result = prefix + "." + std::move(name);
  if (!context.empty()) {
    result += ": ";
    for (size_t i = 0; i < context.size(); ++i) {
      if (i > 0)
        result += ", ";
      if (context.match_element<std::string>(i))
        result += context.get_as<std::string>(i);
      else
        result += context.stringify(i);
    }
  }
  return result;
}

struct category_names {
  std::string prefix;
  std::string (*name_of)(uint8_t);
};

// Every category registered in this process, so `render` needs no system.
std::mutex categories_mtx;
std::map<caf::atom_value, category_names> categories{
  {errc_category,
   {"ringvisor.actor",
    [](uint8_t code) { return to_string(static_cast<errc>(code)); }}}};

} // namespace

void add_error_renderer(caf::actor_system_config& cfg,
                        caf::atom_value category, std::string prefix,
                        std::string (*name_of)(uint8_t)) {
  {
    std::lock_guard<std::mutex> guard{categories_mtx};
    categories[category] = category_names{prefix, name_of};
  }
  cfg.add_error_category(category, [prefix, name_of](uint8_t code,
                                                     caf::atom_value,
                                                     const caf::message& ctx) {
    return render_with(prefix, name_of(code), ctx);
  });
}

std::string render(const caf::error& x) {
  if (!x)
    return "none";
  std::lock_guard<std::mutex> guard{categories_mtx};
  if (auto i = categories.find(x.category()); i != categories.end())
    return render_with(i->second.prefix, i->second.name_of(x.code()),
                       x.context());
  return caf::to_string(x);
}

} // namespace ringvisor::actor

namespace ringvisor::actor {

void add_types(caf::actor_system_config& cfg) {
  add_error_renderer(cfg, errc_category, "ringvisor.actor", [](uint8_t code) {
    return to_string(static_cast<errc>(code));
  });
}

} // namespace ringvisor::actor

namespace ringvisor::actor {

caf::error check_wire_types(caf::actor_system& sys, const caf::message& sample,
                            const std::string& what) {
  for (size_t i = 0; i < sample.size(); ++i) {
    auto [nr, info] = sample.type(i);
    if (sys.types().portable_name(nr, info) != "???")
      continue;
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> name{
      abi::__cxa_demangle(info->name(), nullptr, nullptr, &status), std::free};
    return make_error(errc::bad_config, what + " cannot cross the network: type "
                                          + (status == 0 ? name.get() : info->name())
                                          + " is not registered",
                      "call ringvisor::add_types(cfg) before the node starts");
  }
  return caf::none;
}

} // namespace ringvisor::actor
