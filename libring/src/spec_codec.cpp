#include "spec_codec.hpp"

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

caf::expected<actor::bytes> encode_spec(caf::actor_system& sys, const child_spec& spec) {
  if (spec.start)
    return make_error(errc::bad_spec, spec.id,
                      "a spec with a start function cannot be stored; "
                      "register a factory and use type and args");
  auto blob = actor::to_bytes(sys, spec);
  if (!blob)
    return make_error(errc::bad_spec, spec.id,
                      "its arguments cannot be serialized: " + actor::render(blob.error()));
  return blob;
}

namespace {

// A spec as stores wrote it before specs had a snapshot policy.
struct legacy_spec {
  child_spec* spec;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, legacy_spec& x) {
  auto& s = *x.spec;
  return f(caf::meta::type_name("ringvisor::child_spec"), s.id, s.type, s.args, s.restart,
           s.shutdown, s.kind);
}

} // namespace

caf::expected<child_spec> decode_spec(caf::actor_system& sys, const actor::bytes& blob,
                                      const std::string& store, const std::string& id) {
  child_spec spec;
  auto err = actor::from_bytes(sys, blob, spec);
  if (err) {
    child_spec old;
    legacy_spec legacy{&old};
    if (!actor::from_bytes(sys, blob, legacy)) // written before snapshot policies
      return old;
  }
  if (err)
    return make_error(errc::store_failed, store,
                      "child " + id + " cannot be read: " + actor::render(err)
                        + "; are its argument types registered?");
  return spec;
}

} // namespace ringvisor::ring
