// Helpers for the PKI tests: temporary directories, files and the openssl CLI. Tests are not
// core, so they may touch files, processes and the clock.
#ifndef ARRAYKIT_TESTS_UNIT_PKI_TEST_UTIL_H_
#define ARRAYKIT_TESTS_UNIT_PKI_TEST_UTIL_H_

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/pki/pki.h"
#include "core/pki/secret.h"

namespace arraykit::pki::testing {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, std::string_view content);
std::string ReadFile(const std::string& path);

// Runs a shell command, returns its stdout+stderr; `exit_code` gets the exit status.
std::string Run(const std::string& command, int* exit_code);
// Runs a command that must succeed (FAILs the test with its output otherwise).
std::string MustRun(const std::string& command);

// A fixed instant for certificates made in-process (the core never reads the clock).
absl::Time TestNow();

// With the openssl CLI, in `dir`: a CA (key `name`.key, cert `name`.pem) of the array's profile
// for `key_spec` (an `openssl req -newkey` argument such as "ec -pkeyopt
// ec_paramgen_curve:P-256" or "rsa:1024").
void CliMakeCa(const TempDir& dir, const std::string& name, const std::string& subject,
               const std::string& key_spec = "ec -pkeyopt ec_paramgen_curve:P-256");

// A key and CSR `name`.key / `name`.csr with the given subject and extra `req` arguments.
void CliMakeCsr(const TempDir& dir, const std::string& name, const std::string& subject,
                const std::string& key_spec = "ec -pkeyopt ec_paramgen_curve:P-256",
                const std::string& extra = "");

// Signs `csr_name`.csr with CA `ca_name` into `out`.pem; `extensions` are lines of an
// extension section ("subjectAltName=DNS:a\nextendedKeyUsage=serverAuth"), `extra` more
// arguments of `openssl x509 -req` (e.g. "-sha1", "-days 1").
void CliSign(const TempDir& dir, const std::string& ca_name, const std::string& csr_name,
             const std::string& out, const std::string& extensions, const std::string& extra = "");

// The array's peer profile for `name` as extension lines.
std::string PeerExtensions(const std::string& name);

// A member key and the peer certificate `ca` issued for it.
struct Issued {
  SecretString key_pem;
  std::string certificate_pem;
};
Issued IssuePeer(const CertificateAuthority& ca, const std::string& name, absl::Time now,
                 KeyType key_type = KeyType::kEcdsaP256,
                 absl::Duration lifetime = absl::Hours(24 * 90));

// A CA made in-process at `now` (ECDSA P-256 unless told).
CertificateAuthority MakeCa(absl::Time now, const std::string& common_name = "arraykit array CA",
                            KeyType key_type = KeyType::kEcdsaP256);

// DER bytes of a PEM certificate or CSR (base64 body).
std::string PemToDer(std::string_view pem);
// PEM text for DER bytes with the given label ("CERTIFICATE", "CERTIFICATE REQUEST").
std::string DerToPem(std::string_view der, std::string_view label);

}  // namespace arraykit::pki::testing

#endif  // ARRAYKIT_TESTS_UNIT_PKI_TEST_UTIL_H_
