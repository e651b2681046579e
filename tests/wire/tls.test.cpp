// A TLS cluster of real node processes over loopback TCP, with certificates
// from a private CA made for the test: the members form and serve
// ringvisor-ctl when it has a certificate; a tool or node without one, or
// with one from another CA, gets nothing; a node whose certificate names
// another member does not start.

#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "support/cluster_kit.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;
using cluster::member_status;

namespace {

/// The command-line options that give a process `cert` from `ca`.
strings tls_args(const test_ca& ca, const test_ca::issued& cert) {
  return {"--ringvisor.tls.ca-file=" + ca.ca_file, "--ringvisor.tls.cert-file=" + cert.cert_file,
          "--ringvisor.tls.key-file=" + cert.key_file};
}

std::string joined(const strings& xs) {
  std::string result;
  for (auto& x : xs)
    result += " " + x;
  return result;
}

} // namespace

TEST_CASE("a TLS cluster forms and serves tools with certificates, and strangers get nothing") {
  temp_dir tmp{"wire-tls"};
  test_ca ca{tmp.path};
  test_ca other{tmp.path, "another CA"};
  actor::wire_options probe_wire;
  auto probe_cert = ca.issue("test-probe", {"test-probe"});
  probe_wire.tls_ca_file = ca.ca_file;
  probe_wire.tls_cert_file = probe_cert.cert_file;
  probe_wire.tls_key_file = probe_cert.key_file;
  cluster_kit kit{{}, probe_wire};
  node_options a_opts;
  a_opts.args = tls_args(ca, ca.issue("a", {"a"}));
  kit.start("a", a_opts);
  node_options b_opts;
  b_opts.args = tls_args(ca, ca.issue("b", {"b"}));
  kit.start("b", b_opts);
  kit.await_view(kit["a"], {"a", "b"});
  kit.await_view(kit["b"], {"a", "b"});
  auto node = std::string{RINGVISOR_CTL_BIN} + " --node " + kit["a"].endpoint() + " ";

  // ringvisor-ctl with a certificate from the CA: served.
  auto ctl_ok = joined(tls_args(ca, ca.issue("ctl", {"ringvisor-ctl"})));
  auto [code, out] = run_shell(node + "members" + ctl_ok);
  CHECK_MESSAGE(code == 0, out);
  CHECK_MESSAGE(out.find("b") != std::string::npos, out);

  // Without TLS or with another CA's certificate: refused, and it says
  // why. With a certificate naming someone else, ctl does not even start.
  auto plain = run_shell(node + "members");
  CHECK_MESSAGE(plain.code != 0, plain.out);
  auto foreign = run_shell(node + "members"
                           + joined(tls_args(other, other.issue("ctl", {"ringvisor-ctl"}))));
  CHECK_MESSAGE(foreign.code != 0, foreign.out);
  CHECK_MESSAGE(foreign.out.find("TLS") != std::string::npos, foreign.out);
  auto misnamed = run_shell(node + "members" + joined(tls_args(ca, ca.issue("x", {"x"}))));
  CHECK_MESSAGE(misnamed.code != 0, misnamed.out);
  CHECK_MESSAGE(misnamed.out.find("ringvisor.tls.cert-file") != std::string::npos, misnamed.out);

  // A node with the secret but a certificate of another CA, seeded at a,
  // joins nothing.
  node_options x_opts;
  x_opts.seeds = strings{kit["a"].endpoint()};
  x_opts.args = tls_args(other, other.issue("x", {"x"}));
  kit.start("x", x_opts);
  std::this_thread::sleep_for(1500ms); // a few join attempts
  CHECK(with_status(kit.report(kit["a"]).members, member_status::up) == strings{"a", "b"});
  CHECK(kit.view_of(kit["b"]).size() == 2);

  // A node holding a's certificate under another name does not start.
  auto c = run_shell(std::string{RINGVISOR_NODE_BIN}
                     + " --ringvisor.name=c --ringvisor.host=127.0.0.1 --ringvisor.port=0"
                     + joined(tls_args(ca, ca.issue("a2", {"a"}))));
  CHECK_MESSAGE(c.code != 0, c.out);
  CHECK_MESSAGE(c.out.find("ringvisor.tls.cert-file") != std::string::npos, c.out);
  CHECK_MESSAGE(c.out.find("not 'c'") != std::string::npos, c.out);
}
