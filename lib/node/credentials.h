// A member's keys and certificates on the node (DESIGN.md §6): what it holds, how a first start
// makes them, how a restart loads them, and what joining an array changes.
//
// In the store (node::Storage):
//   secret "peer_key"            the member's private key (PKCS#8 PEM)
//   secret "ca_key:<fp>"         the key of CA <fp>, when this member holds that CA
//   certificate "peer"           its peer certificate, signed by its array's CA
//   certificate "ca:<fp>"        a CA certificate it trusts; the one its peer certificate chains
//                                to is the one it presents to pinned senders
// A standalone member is the primary of its own one-member array: it holds its own CA. A member
// that joined an array trusts the array's CA and holds no CA key (its own CA was retired). During
// a CA rollover (docs/node.md) a member trusts two CAs, and the new primary holds the new CA's
// key beside the one its certificate chains to until it is reissued.
#ifndef ARRAYKIT_NODE_CREDENTIALS_H_
#define ARRAYKIT_NODE_CREDENTIALS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/pki/pki.h"
#include "core/pki/secret.h"
#include "node/storage.h"

namespace arraykit::node {

inline constexpr const char* kPeerKeySecret = "peer_key";
inline constexpr const char* kPeerCertificate = "peer";
inline constexpr const char* kCaKeySecretPrefix = "ca_key:";
inline constexpr const char* kCaCertificatePrefix = "ca:";

// Peer certificates live 90 days, a member's own CA 5 years (pki's defaults).
struct Credentials {
  std::optional<pki::CertificateAuthority> authority;  // the CA whose key this member holds
  std::string ca_certificate_pem;  // the CA its certificate chains to, which it presents
  std::string ca_fingerprint;      // of that CA
  pki::SecretString peer_key_pem;
  std::string peer_certificate_pem;
};

// A first start: a fresh ECDSA P-256 key, a CA of the member's own and its peer certificate
// signed by that CA, with the store changes that persist them.
struct NewCredentials {
  Credentials credentials;
  CredentialChange change;
};
absl::StatusOr<NewCredentials> MakeStandaloneCredentials(const std::string& name, absl::Time now);

// A restart: the credentials in the store, or nullopt when it holds none (a store written
// before the node kept keys). A store whose credentials do not fit together is DATA_LOSS
// (`corrupt_state`), naming the part; no key material is ever in the message.
absl::StatusOr<std::optional<Credentials>> LoadCredentials(Storage& storage);

// Joining: the array's CA (trusted, presented), the member's new key and the certificate the
// array's CA signed for it replace its own; its own CA is retired (certificate and key deleted).
// The certificate must chain to the CA, name `name` and be valid at `now`, else
// PERMISSION_DENIED with the verification's reason (`untrusted_issuer`, `name_mismatch`, ...).
absl::StatusOr<NewCredentials> AdoptArrayCredentials(const Credentials& current,
                                                     const std::string& name,
                                                     const std::string& ca_certificate_pem,
                                                     pki::SecretString peer_key_pem,
                                                     const std::string& certificate_pem,
                                                     absl::Time now);

// create_ca of the CA rollover (docs/node.md): a new CA for the array of primary `primary`, with
// the store changes that keep its key (secret "ca_key:<fp>") and trust it ("ca:<fp>").
struct NewCa {
  pki::CertificateAuthority authority;
  CredentialChange change;
};
absl::StatusOr<NewCa> MakeArrayCa(const std::string& primary, absl::Time now);

// The store change that trusts the CA certificate `ca_certificate_pem` ("ca:<fp>"); the
// fingerprint must be `fingerprint`, else INVALID_ARGUMENT (`fingerprint_mismatch`).
absl::StatusOr<CredentialChange> TrustCa(const std::string& fingerprint,
                                         const std::string& ca_certificate_pem);

// issue_certificate of the CA rollover: the member's new key and the certificate the next CA
// signed for it replace its key and certificate; it presents that CA from then on. The trusted
// CAs are unchanged (the previous one goes at untrust_ca). The certificate must chain to the CA,
// name `name` and be valid at `now`, else PERMISSION_DENIED with the verification's reason.
absl::StatusOr<NewCredentials> AdoptReissuedCertificate(const std::string& name,
                                                        const std::string& ca_certificate_pem,
                                                        pki::SecretString peer_key_pem,
                                                        const std::string& certificate_pem,
                                                        absl::Time now);

// How a certificate is stored (DER, validity, renewal at two thirds of its lifetime).
absl::StatusOr<CertificateStatus> StoredCertificateOf(const std::string& name,
                                                      const std::string& role,
                                                      const std::string& pem);

}  // namespace arraykit::node

#endif  // ARRAYKIT_NODE_CREDENTIALS_H_
