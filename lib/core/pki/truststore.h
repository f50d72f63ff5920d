// Truststore: the CA certificates a member trusts (DESIGN.md §6). Normally one — the primary's
// CA — and two during a CA rollover, when members carry the old and the new CA so no link drops.
#ifndef ARRAYKIT_CORE_PKI_TRUSTSTORE_H_
#define ARRAYKIT_CORE_PKI_TRUSTSTORE_H_

#include <openssl/ossl_typ.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/pki/pki.h"
#include "nlohmann/json.hpp"

namespace arraykit::pki {

// A rollover needs two CAs; a few more leave room for operator-added ones, and the limit keeps
// a hostile truststore document from growing without bound.
inline constexpr std::size_t kMaxTrustedCas = 8;

// One trusted CA as `arrayctl security peerca --show` lists it.
struct TrustedCa {
  std::string subject;
  std::string fingerprint_sha256;  // as `openssl x509 -noout -fingerprint -sha256` prints it
  absl::Time not_before;
  absl::Time not_after;
  std::string serial_hex;
  std::string certificate_pem;

  // {"subject", "fingerprint_sha256", "not_before", "not_after", "serial", "certificate_pem"}
  nlohmann::json ToJson() const;
};

class Truststore {
 public:
  Truststore() = default;

  // Adds a CA certificate (PEM or DER). Refuses certificates that are not CAs (CA:TRUE and
  // keyCertSign), that are not self-signed, or whose key the policy forbids. Adding a CA
  // that is already present (same fingerprint) changes nothing and returns it.
  absl::StatusOr<TrustedCa> Add(std::string_view ca_certificate);
  // Removes the CA with this fingerprint (any case, with or without colons); NOT_FOUND if absent.
  absl::Status Remove(std::string_view fingerprint);
  bool Contains(std::string_view fingerprint) const;

  std::vector<TrustedCa> List() const;
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // An array of TrustedCa::ToJson().
  nlohmann::json ToJson() const;

  // The parsed certificates, for the verifier. Owned by the truststore.
  std::vector<X509*> Certificates() const;

 private:
  struct Entry {
    TrustedCa info;
    std::shared_ptr<X509> cert;  // immutable once parsed, so copies of a truststore share it
  };
  std::vector<Entry> entries_;
};

}  // namespace arraykit::pki

#endif  // ARRAYKIT_CORE_PKI_TRUSTSTORE_H_
