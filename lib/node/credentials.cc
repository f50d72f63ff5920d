#include "node/credentials.h"

#include <utility>
#include <vector>

#include <openssl/x509.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/pki/ossl.h"
#include "core/pki/truststore.h"
#include "core/pki/verify.h"
#include "core/status.h"

namespace arraykit::node {
namespace {

absl::Status Corrupt(std::string_view what) {
  return MakeError(absl::StatusCode::kDataLoss, "corrupt_state",
                   absl::StrCat("the store's credentials: ", std::string(what)));
}

absl::Time WholeSeconds(absl::Time t) { return absl::FromUnixSeconds(absl::ToUnixSeconds(t)); }

pki::CaOptions OwnCaOptions(const std::string& name) {
  pki::CaOptions options;
  // X.509 common names are at most 64 characters.
  std::string cn = absl::StrCat(options.common_name, " of ", name);
  if (cn.size() <= 64) options.common_name = std::move(cn);
  return options;
}

// A certificate a CA issued to this member: it chains to `ca_certificate_pem`, names `name`, and
// is valid at `now` (PERMISSION_DENIED with the verification's reason otherwise).
absl::Status VerifyIssuedTo(const std::string& name, const std::string& ca_certificate_pem,
                            const std::string& certificate_pem, absl::Time now) {
  pki::Truststore trust;
  if (auto added = trust.Add(ca_certificate_pem); !added.ok()) return added.status();
  pki::VerifyOptions options;
  options.expected_name = name;
  options.role = pki::Role::kClient;
  options.at = now;
  return pki::VerifyPeerCertificate(certificate_pem, trust, options).ToStatus();
}

}  // namespace

absl::StatusOr<CertificateStatus> StoredCertificateOf(const std::string& name,
                                                      const std::string& role,
                                                      const std::string& pem) {
  auto info = pki::InspectCertificate(pem);
  if (!info.ok()) return info.status();
  auto der = pki::internal::SingleDer(pem, {"CERTIFICATE"}, "certificate");
  if (!der.ok()) return der.status();
  CertificateStatus out;
  out.name = name;
  out.role = role;
  out.not_before = info->not_before;
  out.not_after = info->not_after;
  out.renewal_at = WholeSeconds(pki::RenewalTime(info->not_before, info->not_after));
  if (out.renewal_at < out.not_before) out.renewal_at = out.not_before;
  out.der = *std::move(der);
  return out;
}

absl::StatusOr<NewCredentials> MakeStandaloneCredentials(const std::string& name,
                                                         absl::Time now) {
  auto authority = pki::CertificateAuthority::Create(OwnCaOptions(name), now);
  if (!authority.ok()) return authority.status();
  auto request = pki::CreateKeyAndCsr(pki::KeyType::kEcdsaP256, name);
  if (!request.ok()) return request.status();
  pki::PeerCertificateOptions options;
  options.member_names = {name};
  options.expected_name = name;
  auto certificate = authority->SignPeerCsr(request->csr_pem, options, now);
  if (!certificate.ok()) return certificate.status();
  auto ca_key = authority->PrivateKeyPem();
  if (!ca_key.ok()) return ca_key.status();

  NewCredentials out;
  const std::string fingerprint = authority->fingerprint();
  auto ca_stored = StoredCertificateOf(kCaCertificatePrefix + fingerprint, "ca",
                                       authority->certificate_pem());
  if (!ca_stored.ok()) return ca_stored.status();
  auto peer_stored = StoredCertificateOf(kPeerCertificate, "peer", *certificate);
  if (!peer_stored.ok()) return peer_stored.status();
  out.change.put_secrets.emplace_back(kPeerKeySecret, request->private_key_pem.Clone());
  out.change.put_secrets.emplace_back(kCaKeySecretPrefix + fingerprint, *std::move(ca_key));
  out.change.put_certificates.push_back(*std::move(ca_stored));
  out.change.put_certificates.push_back(*std::move(peer_stored));

  out.credentials.ca_certificate_pem = authority->certificate_pem();
  out.credentials.ca_fingerprint = fingerprint;
  out.credentials.peer_key_pem = std::move(request->private_key_pem);
  out.credentials.peer_certificate_pem = *std::move(certificate);
  out.credentials.authority.emplace(*std::move(authority));
  return out;
}

absl::StatusOr<std::optional<Credentials>> LoadCredentials(Storage& storage) {
  auto certificates = storage.LoadCertificates();
  if (!certificates.ok()) return certificates.status();
  auto peer_key = storage.LoadSecret(kPeerKeySecret);
  if (!peer_key.ok()) return peer_key.status();
  const CertificateStatus* peer = nullptr;
  std::vector<const CertificateStatus*> cas;
  for (const CertificateStatus& c : *certificates) {
    if (c.name == kPeerCertificate) peer = &c;
    if (absl::StartsWith(c.name, kCaCertificatePrefix)) cas.push_back(&c);
  }
  if (peer == nullptr && !peer_key->has_value()) return std::optional<Credentials>();
  if (peer == nullptr) return Corrupt("a peer key without a peer certificate");
  if (!peer_key->has_value()) return Corrupt("a peer certificate without its key");
  auto peer_pem = pki::CertificateAsPem(peer->der);
  if (!peer_pem.ok()) return Corrupt("the peer certificate does not parse");

  Credentials out;
  out.peer_key_pem = std::move(**peer_key);
  out.peer_certificate_pem = *std::move(peer_pem);
  // The CA is the trusted one the peer certificate chains to.
  for (const CertificateStatus* ca : cas) {
    auto ca_pem = pki::CertificateAsPem(ca->der);
    if (!ca_pem.ok()) return Corrupt(absl::StrCat("certificate ", ca->name, " does not parse"));
    pki::Truststore trust;
    if (!trust.Add(*ca_pem).ok()) continue;
    pki::VerifyOptions options;
    options.role = pki::Role::kClient;
    options.at = peer->not_before;
    auto info = pki::InspectCertificate(out.peer_certificate_pem);
    if (!info.ok() || info->dns_names.empty()) return Corrupt("the peer certificate names no one");
    options.expected_name = info->dns_names.front();
    if (!pki::VerifyPeerCertificate(out.peer_certificate_pem, trust, options).valid) continue;
    out.ca_certificate_pem = *std::move(ca_pem);
    out.ca_fingerprint = ca->name.substr(std::string_view(kCaCertificatePrefix).size());
    break;
  }
  if (out.ca_certificate_pem.empty()) {
    return Corrupt("no trusted CA certificate issued the peer certificate");
  }
  auto ca_key = storage.LoadSecret(kCaKeySecretPrefix + out.ca_fingerprint);
  if (!ca_key.ok()) return ca_key.status();
  if (ca_key->has_value()) {
    auto authority = pki::CertificateAuthority::Load(out.ca_certificate_pem, (*ca_key)->view());
    if (!authority.ok()) return Corrupt("the CA key does not belong to the CA certificate");
    out.authority.emplace(*std::move(authority));
  }
  return std::optional<Credentials>(std::move(out));
}

absl::StatusOr<NewCredentials> AdoptArrayCredentials(const Credentials& current,
                                                     const std::string& name,
                                                     const std::string& ca_certificate_pem,
                                                     pki::SecretString peer_key_pem,
                                                     const std::string& certificate_pem,
                                                     absl::Time now) {
  if (absl::Status s = VerifyIssuedTo(name, ca_certificate_pem, certificate_pem, now); !s.ok()) {
    return s;
  }
  auto fingerprint = pki::Fingerprint(ca_certificate_pem);
  if (!fingerprint.ok()) return fingerprint.status();
  auto ca_stored = StoredCertificateOf(kCaCertificatePrefix + *fingerprint, "ca",
                                       ca_certificate_pem);
  if (!ca_stored.ok()) return ca_stored.status();
  auto peer_stored = StoredCertificateOf(kPeerCertificate, "peer", certificate_pem);
  if (!peer_stored.ok()) return peer_stored.status();

  NewCredentials out;
  CredentialChange& change = out.change;
  change.put_secrets.emplace_back(kPeerKeySecret, peer_key_pem.Clone());
  if (!current.ca_fingerprint.empty() && current.ca_fingerprint != *fingerprint) {
    // retire_ca: the member's own CA goes, key and certificate.
    change.delete_secrets.push_back(kCaKeySecretPrefix + current.ca_fingerprint);
    change.delete_certificates.push_back(kCaCertificatePrefix + current.ca_fingerprint);
  }
  change.put_certificates.push_back(*std::move(ca_stored));
  change.put_certificates.push_back(*std::move(peer_stored));
  change.reset_repository = true;

  out.credentials.ca_certificate_pem = ca_certificate_pem;
  out.credentials.ca_fingerprint = *std::move(fingerprint);
  out.credentials.peer_key_pem = std::move(peer_key_pem);
  out.credentials.peer_certificate_pem = certificate_pem;
  return out;
}

absl::StatusOr<NewCa> MakeArrayCa(const std::string& primary, absl::Time now) {
  auto authority = pki::CertificateAuthority::Create(OwnCaOptions(primary), now);
  if (!authority.ok()) return authority.status();
  auto ca_key = authority->PrivateKeyPem();
  if (!ca_key.ok()) return ca_key.status();
  auto stored = StoredCertificateOf(kCaCertificatePrefix + authority->fingerprint(), "ca",
                                    authority->certificate_pem());
  if (!stored.ok()) return stored.status();
  CredentialChange change;
  change.put_secrets.emplace_back(kCaKeySecretPrefix + authority->fingerprint(),
                                  *std::move(ca_key));
  change.put_certificates.push_back(*std::move(stored));
  return NewCa{*std::move(authority), std::move(change)};
}

absl::StatusOr<CredentialChange> TrustCa(const std::string& fingerprint,
                                         const std::string& ca_certificate_pem) {
  auto actual = pki::Fingerprint(ca_certificate_pem);
  if (!actual.ok()) return actual.status();
  if (*actual != fingerprint) {
    return MakeError(absl::StatusCode::kInvalidArgument, "fingerprint_mismatch",
                     absl::StrCat("the CA certificate has fingerprint ", *actual, ", not ",
                                  fingerprint));
  }
  pki::Truststore trust;
  if (auto added = trust.Add(ca_certificate_pem); !added.ok()) return added.status();
  auto stored = StoredCertificateOf(kCaCertificatePrefix + fingerprint, "ca", ca_certificate_pem);
  if (!stored.ok()) return stored.status();
  CredentialChange change;
  change.put_certificates.push_back(*std::move(stored));
  return change;
}

absl::StatusOr<NewCredentials> AdoptReissuedCertificate(const std::string& name,
                                                        const std::string& ca_certificate_pem,
                                                        pki::SecretString peer_key_pem,
                                                        const std::string& certificate_pem,
                                                        absl::Time now) {
  if (absl::Status s = VerifyIssuedTo(name, ca_certificate_pem, certificate_pem, now); !s.ok()) {
    return s;
  }
  // The certificate must be for the key this member made (a late answer to an earlier CSR is
  // for another key).
  auto cert = pki::internal::ParseCertificate(certificate_pem);
  if (!cert.ok()) return cert.status();
  auto key = pki::internal::ParsePrivateKey(peer_key_pem.view());
  if (!key.ok()) return key.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    pki::internal::DrainErrors();
    return MakeError(absl::StatusCode::kPermissionDenied, "key_mismatch",
                     "the certificate is not for the key this member's request was made with");
  }
  auto fingerprint = pki::Fingerprint(ca_certificate_pem);
  if (!fingerprint.ok()) return fingerprint.status();
  auto peer_stored = StoredCertificateOf(kPeerCertificate, "peer", certificate_pem);
  if (!peer_stored.ok()) return peer_stored.status();
  NewCredentials out;
  out.change.put_secrets.emplace_back(kPeerKeySecret, peer_key_pem.Clone());
  out.change.put_certificates.push_back(*std::move(peer_stored));
  out.credentials.ca_certificate_pem = ca_certificate_pem;
  out.credentials.ca_fingerprint = *std::move(fingerprint);
  out.credentials.peer_key_pem = std::move(peer_key_pem);
  out.credentials.peer_certificate_pem = certificate_pem;
  return out;
}

}  // namespace arraykit::node
