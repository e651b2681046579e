// Starts a node with a supervisor through the installed package and checks
// that a crashed child comes back; it links libsupervision alone (no cluster,
// no store).
#include <cstdlib>
#include <iostream>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "ringvisor/actor/all.hpp"
#include "ringvisor/supervision/all.hpp"

using namespace ringvisor;

namespace {

caf::behavior worker(caf::event_based_actor*) {
  return {[](int32_t x) -> int32_t {
    if (x < 0)
      throw std::runtime_error("negative");
    return x * 2;
  }};
}

int fail(const std::string& what) {
  std::cerr << "consumer: " << what << '\n';
  return EXIT_FAILURE;
}

} // namespace

int main(int argc, char** argv) {
  actor::node_config cfg;
  supervision::add_types(cfg);
  if (auto err = cfg.read(argc, argv))
    return fail(actor::render(err));
  auto n = actor::node::start(cfg);
  if (!n)
    return fail(actor::render(n.error()));
  auto& node = **n;
  if (auto err = node.factories()->add<>("worker", worker))
    return fail(actor::render(err));
  supervision::supervisor_spec spec;
  spec.factories = node.factories();
  supervision::child_spec child;
  child.id = "w";
  child.type = "worker";
  spec.children.push_back(child);
  auto sup = supervision::spawn_supervisor(node.system(), spec);
  if (!sup)
    return fail(actor::render(sup.error()));
  node.adopt(*sup);
  auto first = supervision::which_children(node.system(), *sup);
  if (!first || first->size() != 1 || !first->front().handle)
    return fail("no running child");
  caf::anon_send(first->front().handle, int32_t{-1}); // crash it
  caf::scoped_actor self{node.system()};
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto now = supervision::which_children(node.system(), *sup);
    if (now && now->front().handle && now->front().handle != first->front().handle) {
      int32_t doubled = 0;
      self->request(now->front().handle, std::chrono::seconds{5}, int32_t{21})
        .receive([&](int32_t x) { doubled = x; }, [](caf::error&) {});
      node.shutdown();
      if (doubled != 42)
        return fail("restarted child did not answer");
      std::cout << "consumer: restarted a crashed child\n";
      return EXIT_SUCCESS;
    }
    self->receive(caf::after(std::chrono::milliseconds{10}) >> [] {});
  }
  return fail("child was not restarted");
}
