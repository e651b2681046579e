#include "ringvisor/actor/factory_registry.hpp"

#include <algorithm>

#include <caf/uniform_type_info_map.hpp>

namespace ringvisor::actor {

namespace {

// Renders the element types of `msg` as `(@i32, @str)`.
std::string signature(caf::actor_system& sys, const caf::message& msg) {
  std::string result = "(";
  for (size_t i = 0; i < msg.size(); ++i) {
    if (i > 0)
      result += ", ";
    result += sys.types().portable_name(msg.content().type(i));
  }
  result += ')';
  return result;
}

bool same_types(const caf::message& x, const caf::message& y) {
  if (x.size() != y.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i) {
    auto a = x.content().type(i);
    auto b = y.content().type(i);
    if (a.first != b.first || (a.first == 0 && *a.second != *b.second))
      return false;
  }
  return true;
}

} // namespace

caf::error factory_registry::add_factory(std::string name,
                                         caf::message prototype, factory fn) {
  auto [_, added] = entries_.emplace(std::move(name),
                                     entry{std::move(prototype), std::move(fn)});
  if (!added)
    return make_error(errc::duplicate_child_type, std::move(_->first));
  return caf::none;
}

caf::expected<caf::actor>
factory_registry::spawn(caf::actor_system& sys, std::string_view type,
                        const caf::message& args) const {
  auto i = entries_.find(std::string{type});
  if (i == entries_.end())
    return make_error(errc::unknown_child_type, std::string{type},
                      "known types: " + [this] {
                        std::string all;
                        for (auto& n : names())
                          all += (all.empty() ? "" : ", ") + n;
                        return all.empty() ? std::string{"none"} : all;
                      }());
  if (!same_types(args, i->second.prototype))
    return make_error(errc::bad_child_args, std::string{type},
                      "expected " + signature(sys, i->second.prototype),
                      "got " + signature(sys, args));
  return i->second.fn(sys, args);
}

bool factory_registry::contains(std::string_view type) const {
  return entries_.count(std::string{type}) > 0;
}

std::vector<std::string> factory_registry::names() const {
  std::vector<std::string> result;
  result.reserve(entries_.size());
  for (auto& kvp : entries_)
    result.push_back(kvp.first);
  std::sort(result.begin(), result.end());
  return result;
}

} // namespace ringvisor::actor
