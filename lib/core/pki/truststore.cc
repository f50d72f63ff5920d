#include "core/pki/truststore.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/model/json_reader.h"
#include "core/pki/ossl.h"
#include "core/status.h"

namespace arraykit::pki {

nlohmann::json TrustedCa::ToJson() const {
  return nlohmann::json{
      {"subject", subject},
      {"fingerprint_sha256", fingerprint_sha256},
      {"not_before", model::json_internal::FormatRfc3339(not_before)},
      {"not_after", model::json_internal::FormatRfc3339(not_after)},
      {"serial", serial_hex},
      {"certificate_pem", certificate_pem},
  };
}

absl::StatusOr<TrustedCa> Truststore::Add(std::string_view ca_certificate) {
  absl::StatusOr<internal::X509Ptr> parsed = internal::ParseCertificate(ca_certificate);
  if (!parsed.ok()) return parsed.status();
  X509* cert = parsed->get();
  if (absl::Status s = internal::CheckCaCertificate(cert); !s.ok()) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          s.message(), "; a truststore holds only the array's CA certificates")),
                      "not_a_ca");
  }
  // The array has no intermediates: a trusted CA is self-signed.
  if ((X509_get_extension_flags(cert) & EXFLAG_SS) == 0) {
    return MakeError(absl::StatusCode::kInvalidArgument, "not_a_ca",
                     "not a self-signed CA certificate (the array's PKI has no intermediates)");
  }
  const internal::KeyAssessment key = internal::AssessPublicKey(X509_get_X509_PUBKEY(cert));
  if (!key.allowed) {
    return MakeError(
        absl::StatusCode::kInvalidArgument, "weak_key",
        absl::StrCat("CA key ", key.description, " is not allowed; allowed: ", AllowedKeyTypes()));
  }
  absl::StatusOr<CertificateInfo> info = internal::Describe(cert);
  if (!info.ok()) return info.status();
  for (const Entry& e : entries_) {
    if (e.info.fingerprint_sha256 == info->fingerprint_sha256) return e.info;
  }
  if (entries_.size() >= kMaxTrustedCas) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a truststore holds at most ", kMaxTrustedCas, " CA certificates"));
  }
  Entry entry;
  entry.info.subject = info->subject;
  entry.info.fingerprint_sha256 = info->fingerprint_sha256;
  entry.info.not_before = info->not_before;
  entry.info.not_after = info->not_after;
  entry.info.serial_hex = info->serial_hex;
  entry.info.certificate_pem = internal::CertificateToPem(cert);
  entry.cert = std::shared_ptr<X509>(parsed->release(), X509_free);
  entries_.push_back(std::move(entry));
  return entries_.back().info;
}

absl::Status Truststore::Remove(std::string_view fingerprint) {
  absl::StatusOr<std::string> fp = NormalizeFingerprint(fingerprint);
  if (!fp.ok()) return fp.status();
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.info.fingerprint_sha256 == *fp; });
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("no CA with fingerprint ", *fp, " in the truststore"));
  }
  entries_.erase(it);
  return absl::OkStatus();
}

bool Truststore::Contains(std::string_view fingerprint) const {
  absl::StatusOr<std::string> fp = NormalizeFingerprint(fingerprint);
  if (!fp.ok()) return false;
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.info.fingerprint_sha256 == *fp; });
}

std::vector<TrustedCa> Truststore::List() const {
  std::vector<TrustedCa> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(e.info);
  return out;
}

nlohmann::json Truststore::ToJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const Entry& e : entries_) out.push_back(e.info.ToJson());
  return out;
}

std::vector<X509*> Truststore::Certificates() const {
  std::vector<X509*> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(e.cert.get());
  return out;
}

}  // namespace arraykit::pki
