#include "wire/tls.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ringvisor/actor/errc.hpp"
#include "wire/secret.hpp"

namespace ringvisor::actor::wire {

namespace {

// The reason of OpenSSL's oldest queued error, and an empty queue.
std::string openssl_reason() {
  auto e = ERR_get_error();
  ERR_clear_error();
  if (e == 0)
    return "no reason given";
  if (auto reason = ERR_reason_error_string(e))
    return reason;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// The subjectAltName DNS entries of `cert`, as written.
std::vector<std::string> dns_names(X509* cert) {
  std::vector<std::string> result;
  auto sans = static_cast<GENERAL_NAMES*>(
    X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    auto gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type == GEN_DNS)
      result.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                          static_cast<size_t>(ASN1_STRING_length(gn->d.dNSName)));
  }
  GENERAL_NAMES_free(sans);
  return result;
}

// Returns whether a subjectAltName DNS entry of `cert` is exactly `name`
// (no wildcards, no common name, case-sensitive: member names are).
bool names_exactly(X509* cert, const std::string& name) {
  auto names = dns_names(cert);
  return !name.empty() && std::find(names.begin(), names.end(), name) != names.end();
}

std::string what(const std::string& option, const std::string& path) {
  return "ringvisor.tls." + option + " '" + path + "'";
}

caf::error bad(const std::string& option, const std::string& path, const std::string& why) {
  return make_error(errc::bad_config, what(option, path), why);
}

caf::error readable(const std::string& option, const std::string& path) {
  auto f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return bad(option, path, std::string{"cannot be read: "} + std::strerror(errno));
  std::fclose(f);
  return caf::none;
}

// The DNS names in `cert`, for messages.
std::string names_in(X509* cert) {
  std::string result;
  for (auto& x : dns_names(cert)) {
    if (result.find("'" + x + "'") != std::string::npos)
      continue;
    result += result.empty() ? "'" : ", '";
    result += x + "'";
  }
  return result.empty() ? "no subjectAltName DNS entry" : result;
}

struct passphrase {
  std::string text;
  bool given = false;
  bool asked = false;
};

int passphrase_callback(char* buf, int size, int, void* user) {
  auto& p = *static_cast<passphrase*>(user);
  p.asked = true;
  if (!p.given || p.text.size() > static_cast<size_t>(size))
    return -1;
  std::memcpy(buf, p.text.data(), p.text.size());
  return static_cast<int>(p.text.size());
}

caf::expected<passphrase> read_passphrase(const tls_files& files) {
  passphrase result;
  if (files.key_password_file.empty())
    return result;
  auto text = read_private_file(files.key_password_file,
                                what("key-password-file", files.key_password_file));
  if (!text)
    return text.error();
  result.text = std::move(*text);
  while (!result.text.empty() && (result.text.back() == '\n' || result.text.back() == '\r'))
    result.text.pop_back();
  if (result.text.empty())
    return bad("key-password-file", files.key_password_file, "is empty");
  result.given = true;
  return result;
}

using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

caf::expected<key_ptr> read_key(const tls_files& files) {
  if (auto err = check_private_file(files.key_file, what("key-file", files.key_file)))
    return err;
  auto pass = read_passphrase(files);
  if (!pass)
    return pass.error();
  auto bio = BIO_new_file(files.key_file.c_str(), "r");
  if (bio == nullptr)
    return bad("key-file", files.key_file, "cannot be opened: " + openssl_reason());
  key_ptr key{PEM_read_bio_PrivateKey(bio, nullptr, passphrase_callback, &*pass), EVP_PKEY_free};
  BIO_free(bio);
  OPENSSL_cleanse(pass->text.data(), pass->text.size());
  if (key)
    return key;
  auto reason = openssl_reason();
  if (pass->asked && !pass->given)
    return bad("key-file", files.key_file,
               "is encrypted: put its passphrase in a file (mode 0600) and set "
               "ringvisor.tls.key-password-file");
  if (pass->asked)
    return bad("key-file", files.key_file,
               "cannot be decrypted with the passphrase in "
                 + what("key-password-file", files.key_password_file) + ": wrong passphrase");
  return bad("key-file", files.key_file, "holds no PEM private key (" + reason + ")");
}

// Checks that our own certificate verifies against the CA now, for both
// ends of a link (a member dials and accepts): a member whose certificate
// its peers would refuse must not start.
caf::error verify_own(SSL_CTX* ctx, const tls_files& files) {
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  for (auto purpose : {X509_PURPOSE_SSL_CLIENT, X509_PURPOSE_SSL_SERVER}) {
    auto sc = X509_STORE_CTX_new();
    if (sc == nullptr)
      throw std::bad_alloc{};
    X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), SSL_CTX_get0_certificate(ctx), chain);
    X509_STORE_CTX_set_purpose(sc, purpose);
    auto ok = X509_verify_cert(sc) == 1;
    auto err = X509_STORE_CTX_get_error(sc);
    X509_STORE_CTX_free(sc);
    ERR_clear_error();
    if (ok)
      continue;
    if (err == X509_V_ERR_INVALID_PURPOSE)
      return bad("cert-file", files.cert_file,
                 "may not be used to both dial and accept: its extendedKeyUsage needs "
                 "serverAuth and clientAuth");
    return bad("cert-file", files.cert_file,
               "does not verify against " + what("ca-file", files.ca_file) + ": "
                 + X509_verify_cert_error_string(err));
  }
  return caf::none;
}

} // namespace

caf::expected<std::shared_ptr<const tls_context>> tls_context::make(const tls_files& files,
                                                                    const std::string& name) {
  ERR_clear_error();
  if (auto err = readable("ca-file", files.ca_file))
    return err;
  if (auto err = readable("cert-file", files.cert_file))
    return err;
  auto key = read_key(files);
  if (!key)
    return key.error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> owned{SSL_CTX_new(TLS_method()),
                                                          SSL_CTX_free};
  if (!owned)
    throw std::bad_alloc{};
  auto ctx = owned.get();
  std::shared_ptr<const tls_context> result{new tls_context(ctx)};
  owned.release();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  // Links are long-lived: no resumption, so no tickets or session cache.
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  if (SSL_CTX_load_verify_locations(ctx, files.ca_file.c_str(), nullptr) != 1)
    return bad("ca-file", files.ca_file,
               "holds no usable PEM certificate (" + openssl_reason() + ")");
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1)
    return bad("cert-file", files.cert_file,
               "holds no usable PEM certificate (" + openssl_reason() + ")");
  if (SSL_CTX_use_PrivateKey(ctx, key->get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
    return bad("key-file", files.key_file,
               "is not the key of the certificate in " + what("cert-file", files.cert_file)
                 + " (" + openssl_reason() + ")");
  if (auto err = verify_own(ctx, files))
    return err;
  auto cert = SSL_CTX_get0_certificate(ctx);
  if (!names_exactly(cert, name))
    return bad("cert-file", files.cert_file,
               "names " + names_in(cert) + ", not '" + name
                 + "' (this process's name): peers would refuse it; issue one with "
                   "subjectAltName DNS:"
                 + name);
  return result;
}

tls_context::~tls_context() {
  SSL_CTX_free(ctx_);
}

tls_session::tls_session(const tls_context& ctx, bool server) {
  ssl_ = SSL_new(ctx.native());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
    BIO_free(in_);
    BIO_free(out_);
    SSL_free(ssl_);
    throw std::bad_alloc{};
  }
  // An empty input buffer means "more to come", not the end of the stream.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_); // the session owns both now
  if (server) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  ERR_clear_error();
  SSL_do_handshake(ssl_); // the client hello, into the outbox
  ERR_clear_error();
  try {
    collect_output();
  } catch (...) {
    SSL_free(ssl_);
    throw;
  }
}

tls_session::~tls_session() {
  SSL_free(ssl_);
}

// Every SSL call starts with an empty error queue: SSL_get_error reads it,
// and a leftover of other libcrypto use on this thread would look fatal.
bool tls_session::receive(const uint8_t* data, size_t size, std::vector<uint8_t>& plain) {
  if (failed())
    return false;
  if (size > 0 && BIO_write(in_, data, static_cast<int>(size)) != static_cast<int>(size))
    throw std::bad_alloc{};
  if (!established_) {
    ERR_clear_error();
    auto r = SSL_do_handshake(ssl_);
    if (r != 1) {
      auto e = SSL_get_error(ssl_, r);
      collect_output(); // the next flight, or an alert
      if (e == SSL_ERROR_WANT_READ)
        return true;
      fail();
      return false;
    }
    established_ = true;
  }
  static thread_local uint8_t buf[16 * 1024];
  for (;;) {
    ERR_clear_error();
    auto n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      heard_ = true;
      plain.insert(plain.end(), buf, buf + n);
      continue;
    }
    auto e = SSL_get_error(ssl_, n);
    collect_output();
    if (e == SSL_ERROR_WANT_READ)
      return true;
    if (e == SSL_ERROR_ZERO_RETURN) {
      error_ = "closed by the peer";
      return false;
    }
    fail();
    return false;
  }
}

bool tls_session::send(const uint8_t* data, size_t size) {
  if (failed())
    return false;
  // Into a memory buffer: it takes everything unless the session broke.
  ERR_clear_error();
  if (size > 0 && SSL_write(ssl_, data, static_cast<int>(size)) != static_cast<int>(size)) {
    fail();
    return false;
  }
  collect_output();
  return true;
}

bool tls_session::names(const std::string& name) const {
  auto cert = SSL_get0_peer_certificate(ssl_);
  return cert != nullptr && names_exactly(cert, name);
}

void tls_session::sent(size_t n) {
  outbox_off_ += n;
  if (outbox_off_ == outbox_.size()) {
    outbox_.clear();
    outbox_off_ = 0;
  }
}

void tls_session::collect_output() {
  auto pending = BIO_ctrl_pending(out_);
  if (pending == 0)
    return;
  if (outbox_off_ > 0 && outbox_off_ * 2 >= outbox_.size()) {
    outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<ptrdiff_t>(outbox_off_));
    outbox_off_ = 0;
  }
  auto old = outbox_.size();
  outbox_.resize(old + pending);
  BIO_read(out_, outbox_.data() + old, static_cast<int>(pending));
}

void tls_session::fail() {
  auto reason = openssl_reason();
  auto verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK)
    reason += std::string{" ("} + X509_verify_cert_error_string(verify) + ")";
  else if (reason == "wrong version number")
    reason += " (does the peer run TLS?)";
  error_ = "TLS: " + reason;
}

} // namespace ringvisor::actor::wire
