// The in-memory executor of rotation plans, for tests and the bench: it applies each step of a
// plan (core/pki/rotation.h) to a picture of every member's credentials at once, so a test can
// check after every single step that all members still verify each other. It is the reference
// the distributed runtime has to match; it is not part of the library.
#ifndef ARRAYKIT_TESTS_UNIT_PKI_SIMULATED_ARRAY_PKI_H_
#define ARRAYKIT_TESTS_UNIT_PKI_SIMULATED_ARRAY_PKI_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/model/array.h"
#include "core/pki/pki.h"
#include "core/pki/rotation.h"
#include "core/pki/secret.h"
#include "core/pki/truststore.h"

namespace arraykit::pki {

// One member's credentials as its own store would hold them.
struct MemberCredentials {
  SecretString private_key_pem;
  std::string certificate_pem;
  CertificateInfo certificate;
  Truststore truststore;
  std::vector<std::string> revoked_serials;
};

struct SimulationOptions {
  KeyType key_type = KeyType::kEcdsaP256;
  absl::Duration ca_lifetime = absl::Hours(24 * 365 * 5);
  absl::Duration peer_lifetime = absl::Hours(24 * 90);
};

class SimulatedArrayPki {
 public:
  // A formed array: the primary's CA, and every member with a certificate and the truststore.
  static absl::StatusOr<SimulatedArrayPki> Create(const model::Array& array,
                                                  const SimulationOptions& options, absl::Time now);

  // Executes one step as the runtime would on the member it names.
  absl::Status Apply(const RotationStep& step, absl::Time now);

  // Every ordered pair (a, b) of members: a verifies b's certificate as a server and as a
  // client with a's truststore and revocation list. Returns "a -> b (role): reason: message"
  // for each failure; empty means every link works.
  std::vector<std::string> MutualVerificationFailures(absl::Time now) const;

  // The membership (normalized names, sorted) and the primary, as the steps left them.
  std::vector<std::string> members() const;
  const std::string& primary() const { return primary_; }
  const CertificateAuthority& current_ca() const { return *current_ca_; }
  const MemberCredentials* credentials(std::string_view member) const;
  // The array model after the steps (for planning the next change).
  model::Array ToArray() const;
  // Validity of the current CA and of each member's certificate, for PlanRenewal.
  CertificateValidity CaValidity() const;
  std::vector<CertificateValidity> PeerValidity() const;

 private:
  SimulatedArrayPki() = default;
  const CertificateAuthority* Ca(CaRef ref) const;
  absl::Status Issue(const std::string& member, CaRef ca, absl::Time now);

  SimulationOptions options_;
  std::string primary_;
  std::optional<CertificateAuthority> current_ca_;
  std::optional<CertificateAuthority> next_ca_;
  std::optional<CertificateAuthority> previous_ca_;
  std::map<std::string, MemberCredentials> credentials_;  // members and joining members
  std::map<std::string, bool> admitted_;                  // name -> accepted as a peer
  std::map<std::string, std::vector<std::string>> issued_serials_;
};

}  // namespace arraykit::pki

#endif  // ARRAYKIT_TESTS_UNIT_PKI_SIMULATED_ARRAY_PKI_H_
