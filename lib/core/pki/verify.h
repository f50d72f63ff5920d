// Peer certificate verification (DESIGN.md §6): chain to a trusted CA, expected peer DNS name,
// validity at a given instant, key strength, key usage for the role, revocation, signature
// algorithm. A rejection carries one stable reason code.
#ifndef ARRAYKIT_CORE_PKI_VERIFY_H_
#define ARRAYKIT_CORE_PKI_VERIFY_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/pki/truststore.h"
#include "nlohmann/json.hpp"

namespace arraykit::pki {

// Stable codes: part of the JSON contract and the C ABI; never renamed.
enum class RejectReason {
  kUntrustedIssuer,  // "untrusted_issuer": no chain to a CA in the truststore
  kBadSignature,     // "bad_signature": a signature fails, or uses SHA-1/MD5
  kNameMismatch,     // "name_mismatch": SAN dNSName is not the expected peer DNS name
  kExpired,          // "expired": past notAfter (of the certificate or its CA)
  kNotYetValid,      // "not_yet_valid": before notBefore
  kWeakKey,          // "weak_key": RSA < 2048, EC other than P-256/P-384, other key types
  kBadKeyUsage,      // "bad_key_usage": KU/EKU do not allow the role, or a CA used as a peer
  kRevoked,          // "revoked": the serial is on the array's revocation list
  kMalformed,        // "malformed": empty or unparseable input
};
std::string_view ToString(RejectReason reason);
std::optional<RejectReason> ParseRejectReason(std::string_view code);

// Which side of a TLS connection the certificate authenticates.
enum class Role {
  kServer,  // needs EKU serverAuth
  kClient,  // needs EKU clientAuth
};

struct VerifyOptions {
  std::string expected_name;  // peer DNS name the certificate must carry (normalized here)
  Role role = Role::kServer;
  absl::Time at;  // the instant of the check; the caller's clock, never read here
  // Serials (hex as CertificateInfo::serial_hex; case, colons and leading zeros ignored) of the
  // array's revoked peer certificates. Serials are 159 random bits, so a serial identifies a
  // certificate of the array without its issuer.
  std::vector<std::string> revoked_serials;
};

struct VerificationResult {
  bool valid = false;
  std::optional<RejectReason> reason;  // set when !valid
  std::string message;                 // for people; never contains key material

  // {"valid": true, "reason": null, "message": "..."} or {"valid": false, "reason": "...",
  // "message": "..."}: the one shape of a verification result (ak_pki_verify, arrayctl).
  nlohmann::json ToJson() const;
  // OK, or MakeError(kCertificateRejected, message) with the rejection as its reason: how the
  // runtime reports a peer refused at a TLS handshake (AK_ECERT_REJECTED).
  absl::Status ToStatus() const;
};

// Verifies a peer certificate (exactly one: PEM or DER) against `truststore`. The array has no
// intermediates (CA path length 0): a peer is verified from its one certificate and the
// truststore. Validity is inclusive at both ends (RFC 5280 §4.1.2.5). Never fails with an
// operating error: bad input is a rejection with reason `malformed`.
VerificationResult VerifyPeerCertificate(std::string_view certificate, const Truststore& truststore,
                                         const VerifyOptions& options);

}  // namespace arraykit::pki

#endif  // ARRAYKIT_CORE_PKI_VERIFY_H_
