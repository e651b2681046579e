#include "store_worker.hpp"

#include <iterator>

#include "ringvisor/supervision/errc.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

std::optional<size_t> store_of(const stores_type& stores, const child_spec& spec) {
  for (size_t i = 0; i < stores.size(); ++i)
    if (stores[i]->match(spec))
      return i;
  return std::nullopt;
}

caf::behavior store_worker(caf::event_based_actor*, stores_type stores) {
  auto pick = [stores](const child_spec& spec) -> child_store* {
    auto i = store_of(stores, spec);
    return i ? stores[*i].get() : nullptr;
  };
  return {
    [pick](store_add_atom, const child_spec& spec) -> caf::result<bool> {
      auto store = pick(spec);
      if (store == nullptr)
        return false;
      if (auto err = store->add(spec))
        return err;
      return true;
    },
    [pick](store_del_atom, const child_spec& spec) -> caf::result<caf::ok_atom> {
      if (auto store = pick(spec))
        if (auto err = store->del(spec.id); err && err != errc::not_found)
          return err;
      return caf::ok_atom::value;
    },
    [stores](store_put_states_atom, size_t index,
             const std::vector<stored_state>& xs) -> caf::result<uint64_t> {
      if (index >= stores.size())
        return uint64_t{0};
      if (auto err = stores[index]->put_states(xs))
        return err;
      return static_cast<uint64_t>(xs.size());
    },
    [stores](store_get_states_atom) -> caf::result<std::vector<stored_state>> {
      std::vector<stored_state> result;
      for (auto& s : stores) {
        auto xs = s->get_states();
        if (!xs)
          return std::move(xs.error());
        result.insert(result.end(), std::make_move_iterator(xs->begin()),
                      std::make_move_iterator(xs->end()));
      }
      return result;
    },
    [stores](store_get_atom) -> caf::result<std::vector<child_spec>> {
      std::vector<child_spec> result;
      for (auto& s : stores) {
        auto all = s->get_all();
        if (!all)
          return std::move(all.error());
        result.insert(result.end(), all->begin(), all->end());
      }
      return result;
    },
  };
}

} // namespace ringvisor::ring
