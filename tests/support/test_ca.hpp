#pragma once

// A private certificate authority for the TLS tests, made with libcrypto in
// a directory: a CA certificate and the certificates and keys it issues,
// with the names, validity and passphrase a test asks for. Keys are P-256
// (fast to make) and written with mode 0600, as a node requires.

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace ringvisor::test {

class test_ca {
public:
  /// What one certificate says and where it is written.
  struct issued {
    std::string cert_file;
    std::string key_file;
  };

  /// Options of `issue`.
  struct options {
    /// Validity, relative to now.
    std::chrono::seconds not_before{-60};
    std::chrono::seconds not_after{24 * 3600};
    /// Encrypts the key with it (AES-256) when not empty.
    std::string passphrase;
    /// An extendedKeyUsage extension (e.g. "serverAuth") when not empty.
    std::string extended_key_usage;
  };

  /// Makes a CA named `name` whose files go to `dir` (which must exist).
  test_ca(std::string dir, const std::string& name = "ringvisor test CA")
    : dir_(std::move(dir)), key_(make_key()), cert_(X509_new(), X509_free) {
    auto x = cert_.get();
    fill(x, name, key_.get(), {});
    X509_set_issuer_name(x, X509_get_subject_name(x));
    extend(x, x, NID_basic_constraints, "critical,CA:TRUE");
    extend(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (X509_sign(x, key_.get(), EVP_sha256()) == 0)
      throw std::runtime_error{"test_ca: cannot sign the CA"};
    ca_file = dir_ + "/" + slug(name) + ".pem";
    write_cert(ca_file, x);
  }

  /// The CA's certificate (PEM).
  std::string ca_file;

  /// Issues a certificate named `names` (subjectAltName DNS entries; the
  /// first is also the common name), written as `<stem>.crt` and `<stem>.key`.
  issued issue(const std::string& stem, const std::vector<std::string>& names,
               const options& opts) {
    auto key = make_key();
    std::unique_ptr<X509, decltype(&X509_free)> cert{X509_new(), X509_free};
    auto x = cert.get();
    fill(x, names.empty() ? stem : names.front(), key.get(), opts);
    X509_set_issuer_name(x, X509_get_subject_name(cert_.get()));
    extend(x, cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
    std::string san;
    for (auto& n : names)
      san += (san.empty() ? "DNS:" : ",DNS:") + n;
    if (!san.empty())
      extend(x, cert_.get(), NID_subject_alt_name, san);
    if (!opts.extended_key_usage.empty())
      extend(x, cert_.get(), NID_ext_key_usage, opts.extended_key_usage);
    if (X509_sign(x, key_.get(), EVP_sha256()) == 0)
      throw std::runtime_error{"test_ca: cannot sign " + stem};
    issued result{dir_ + "/" + stem + ".crt", dir_ + "/" + stem + ".key"};
    write_cert(result.cert_file, x);
    write_key(result.key_file, key.get(), opts.passphrase);
    return result;
  }

  issued issue(const std::string& stem, const std::vector<std::string>& names) {
    return issue(stem, names, options{});
  }

private:
  using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

  static key_ptr make_key() {
    key_ptr key{EVP_EC_gen("P-256"), EVP_PKEY_free};
    if (!key)
      throw std::runtime_error{"test_ca: cannot make a key"};
    return key;
  }

  static std::string slug(std::string x) {
    for (auto& c : x)
      if (c == ' ' || c == '/')
        c = '-';
    return x;
  }

  void fill(X509* x, const std::string& cn, EVP_PKEY* key, const options& opts) {
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(x), static_cast<long>(opts.not_before.count()));
    X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(opts.not_after.count()));
    X509_set_pubkey(x, key);
    auto subject = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  }

  static void extend(X509* x, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
    auto ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr)
      throw std::runtime_error{"test_ca: bad extension " + value};
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }

  static void write_cert(const std::string& path, X509* x) {
    auto f = std::fopen(path.c_str(), "w");
    if (f == nullptr || PEM_write_X509(f, x) == 0)
      throw std::runtime_error{"test_ca: cannot write " + path};
    std::fclose(f);
  }

  static void write_key(const std::string& path, EVP_PKEY* key, const std::string& pass) {
    auto f = std::fopen(path.c_str(), "w");
    if (f == nullptr)
      throw std::runtime_error{"test_ca: cannot write " + path};
    ::chmod(path.c_str(), 0600);
    auto ok = pass.empty()
                ? PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr)
                : PEM_write_PrivateKey(f, key, EVP_aes_256_cbc(),
                                       reinterpret_cast<const unsigned char*>(pass.data()),
                                       static_cast<int>(pass.size()), nullptr, nullptr);
    std::fclose(f);
    if (ok == 0)
      throw std::runtime_error{"test_ca: cannot write " + path};
  }

  std::string dir_;
  key_ptr key_;
  std::unique_ptr<X509, decltype(&X509_free)> cert_;
  long serial_ = 0;
};

} // namespace ringvisor::test
