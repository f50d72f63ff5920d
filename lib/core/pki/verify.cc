#include "core/pki/verify.h"

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/model/json_reader.h"
#include "core/pki/ossl.h"
#include "core/status.h"

namespace arraykit::pki {
namespace {

using internal::X509Ptr;

constexpr RejectReason kAllReasons[] = {
    RejectReason::kUntrustedIssuer, RejectReason::kBadSignature, RejectReason::kNameMismatch,
    RejectReason::kExpired,         RejectReason::kNotYetValid,  RejectReason::kWeakKey,
    RejectReason::kBadKeyUsage,     RejectReason::kRevoked,      RejectReason::kMalformed,
};

VerificationResult Reject(RejectReason reason, std::string message) {
  return VerificationResult{false, reason, std::move(message)};
}

std::string FormatUtc(absl::Time t) { return model::json_internal::FormatRfc3339(t); }

// Serial spellings compare equal regardless of case, colons and leading zeros.
std::string CanonicalSerial(std::string_view serial) {
  std::string out;
  for (char c : serial) {
    if (c == ':' || std::isspace(static_cast<unsigned char>(c))) continue;
    out += absl::ascii_toupper(static_cast<unsigned char>(c));
  }
  const std::size_t first = out.find_first_not_of('0');
  return first == std::string::npos ? "0" : out.substr(first);
}

bool AcceptedSignature(int nid) {
  switch (nid) {
    case NID_sha256WithRSAEncryption:
    case NID_sha384WithRSAEncryption:
    case NID_sha512WithRSAEncryption:
    case NID_ecdsa_with_SHA256:
    case NID_ecdsa_with_SHA384:
    case NID_ecdsa_with_SHA512:
      return true;
    default:
      return false;
  }
}

std::string Subject(X509* cert) {
  return cert == nullptr ? std::string("(unknown)")
                         : internal::NameToString(X509_get_subject_name(cert));
}

// One reason per chain-building error. Anything unlisted means "no acceptable chain".
VerificationResult FromVerifyError(int error, int depth, X509* at_cert, X509* leaf,
                                   const VerifyOptions& options) {
  const std::string what =
      depth == 0 ? "the certificate" : absl::StrCat("its issuer ", Subject(at_cert));
  const std::string detail = X509_verify_cert_error_string(error);
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED: {
      absl::StatusOr<absl::Time> t = internal::ToAbslTime(X509_get0_notAfter(at_cert));
      return Reject(RejectReason::kExpired,
                    absl::StrCat(what, " expired at ", t.ok() ? FormatUtc(*t) : "?",
                                 "; checked at ", FormatUtc(options.at)));
    }
    case X509_V_ERR_CERT_NOT_YET_VALID: {
      absl::StatusOr<absl::Time> t = internal::ToAbslTime(X509_get0_notBefore(at_cert));
      return Reject(RejectReason::kNotYetValid,
                    absl::StrCat(what, " is not valid before ", t.ok() ? FormatUtc(*t) : "?",
                                 "; checked at ", FormatUtc(options.at)));
    }
    case X509_V_ERR_HOSTNAME_MISMATCH:
      return Reject(RejectReason::kNameMismatch,
                    absl::StrCat("the certificate is not for '", options.expected_name,
                                 "' (subject ", Subject(leaf), ")"));
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
      return Reject(RejectReason::kBadSignature,
                    absl::StrCat("the signature on ", what, " does not verify"));
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
      return Reject(
          RejectReason::kBadKeyUsage,
          absl::StrCat("the certificate may not be used as a TLS ",
                       options.role == Role::kServer ? "server" : "client", " (", detail, ")"));
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
    case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
      return Reject(RejectReason::kMalformed, absl::StrCat(what, ": ", detail));
    default:
      // Unknown issuer, a foreign CA (even one with the same subject DN: issuers are matched
      // by key identifier and signature, never by name), a non-CA used as issuer, a path too
      // long, a self-signed certificate that is not in the truststore.
      return Reject(RejectReason::kUntrustedIssuer,
                    absl::StrCat("no chain to a trusted CA for ", Subject(leaf), " (", detail,
                                 " at depth ", depth, ")"));
  }
}

// The chain builder's callback: validity is checked by VerifyPeerCertificate itself.
int IgnoreTimeErrors(int ok, X509_STORE_CTX* ctx) {
  if (ok == 0) {
    const int error = X509_STORE_CTX_get_error(ctx);
    if (error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID) return 1;
  }
  return ok;
}

}  // namespace

std::string_view ToString(RejectReason reason) {
  switch (reason) {
    case RejectReason::kUntrustedIssuer:
      return "untrusted_issuer";
    case RejectReason::kBadSignature:
      return "bad_signature";
    case RejectReason::kNameMismatch:
      return "name_mismatch";
    case RejectReason::kExpired:
      return "expired";
    case RejectReason::kNotYetValid:
      return "not_yet_valid";
    case RejectReason::kWeakKey:
      return "weak_key";
    case RejectReason::kBadKeyUsage:
      return "bad_key_usage";
    case RejectReason::kRevoked:
      return "revoked";
    case RejectReason::kMalformed:
      return "malformed";
  }
  return "unknown";
}

std::optional<RejectReason> ParseRejectReason(std::string_view code) {
  for (RejectReason r : kAllReasons) {
    if (ToString(r) == code) return r;
  }
  return std::nullopt;
}

nlohmann::json VerificationResult::ToJson() const {
  nlohmann::json reason_json = nullptr;
  if (!valid) reason_json = ToString(reason.value_or(RejectReason::kMalformed));
  return nlohmann::json{{"valid", valid}, {"reason", reason_json}, {"message", message}};
}

absl::Status VerificationResult::ToStatus() const {
  if (valid) return absl::OkStatus();
  return WithReason(MakeError(ErrorCode::kCertificateRejected, message),
                    internal::Av(ToString(reason.value_or(RejectReason::kMalformed))));
}

VerificationResult VerifyPeerCertificate(std::string_view certificate, const Truststore& truststore,
                                         const VerifyOptions& options) {
  absl::StatusOr<X509Ptr> parsed = internal::ParseCertificate(certificate);
  if (!parsed.ok()) return Reject(RejectReason::kMalformed, std::string(parsed.status().message()));
  X509* leaf = parsed->get();
  absl::StatusOr<std::string> expected = NormalizePeerName(options.expected_name);
  if (!expected.ok()) {
    return Reject(RejectReason::kNameMismatch,
                  absl::StrCat("expected name unusable: ", expected.status().message()));
  }

  // Checks that do not need the chain come first, so a weak certificate is named weak even
  // when it is also untrusted.
  const internal::KeyAssessment key = internal::AssessPublicKey(X509_get_X509_PUBKEY(leaf));
  if (!key.decodable) {
    return Reject(RejectReason::kMalformed, "the certificate's public key cannot be decoded");
  }
  if (!key.allowed) {
    return Reject(RejectReason::kWeakKey, absl::StrCat("the certificate's key is ", key.description,
                                                       "; allowed: ", AllowedKeyTypes()));
  }
  // A key the policy allows by its algorithm must also decode (an EC point off its curve
  // does not): such a certificate is malformed, whoever signed it.
  if (internal::EvpPkeyPtr decoded(X509_get_pubkey(leaf)); decoded == nullptr) {
    internal::DrainErrors();
    return Reject(RejectReason::kMalformed,
                  absl::StrCat("the certificate's ", key.description,
                               " public key cannot be decoded (for an EC key: the point is not "
                               "on the curve)"));
  }
  if (const int nid = X509_get_signature_nid(leaf); !AcceptedSignature(nid)) {
    const char* sn = nid == NID_undef ? nullptr : OBJ_nid2sn(nid);
    return Reject(RejectReason::kBadSignature,
                  absl::StrCat("signature algorithm ", sn != nullptr ? sn : "unknown",
                               " is not accepted (SHA-256 or stronger with RSA or ECDSA)"));
  }
  // A CA certificate, or one that may sign certificates, is never a peer certificate.
  const uint32_t flags = X509_get_extension_flags(leaf);
  if ((flags & EXFLAG_CA) != 0) {
    return Reject(RejectReason::kBadKeyUsage,
                  "the certificate is a CA certificate (CA:TRUE), never a peer certificate");
  }
  if ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(leaf) & KU_KEY_CERT_SIGN) != 0) {
    return Reject(RejectReason::kBadKeyUsage,
                  "the certificate allows keyCertSign; a peer certificate may not sign "
                  "certificates");
  }
  if (truststore.empty()) {
    return Reject(RejectReason::kUntrustedIssuer, "the truststore holds no CA certificate");
  }

  internal::X509StorePtr store(X509_STORE_new());
  internal::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (store == nullptr || ctx == nullptr) return Reject(RejectReason::kMalformed, "out of memory");
  for (X509* ca : truststore.Certificates()) {
    if (X509_STORE_add_cert(store.get(), ca) != 1) internal::DrainErrors();
  }
  // No untrusted certificates: the CA signs peer certificates directly (pathlen 0).
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1) {
    internal::DrainErrors();
    return Reject(RejectReason::kMalformed, "cannot initialize verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // The library treats notAfter as exclusive; RFC 5280 makes it inclusive. Its time errors are
  // let through here and the times checked below, on the chain it built.
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(options.at));
  X509_STORE_CTX_set_verify_cb(ctx.get(), IgnoreTimeErrors);
  // Names come from subjectAltName only (never the CN) and never match a wildcard. The length
  // is always passed: BoringSSL treats 0 as an error, not as strlen.
  X509_VERIFY_PARAM_set_hostflags(
      param, X509_CHECK_FLAG_NO_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  if (X509_VERIFY_PARAM_set1_host(param, expected->c_str(), expected->size()) != 1) {
    internal::DrainErrors();
    return Reject(RejectReason::kNameMismatch, "expected name unusable");
  }
  X509_STORE_CTX_set_purpose(
      ctx.get(), options.role == Role::kServer ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    X509* at_cert = X509_STORE_CTX_get_current_cert(ctx.get());
    internal::DrainErrors();
    return FromVerifyError(error, depth, at_cert != nullptr ? at_cert : leaf, leaf, options);
  }

  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 0; chain != nullptr && i < static_cast<int>(sk_X509_num(chain)); ++i) {
    X509* cert = sk_X509_value(chain, i);
    const std::string what =
        i == 0 ? "the certificate" : absl::StrCat("its issuer ", Subject(cert));
    absl::StatusOr<absl::Time> not_before = internal::ToAbslTime(X509_get0_notBefore(cert));
    absl::StatusOr<absl::Time> not_after = internal::ToAbslTime(X509_get0_notAfter(cert));
    if (!not_before.ok() || !not_after.ok()) {
      return Reject(RejectReason::kMalformed, absl::StrCat(what, ": unreadable validity"));
    }
    if (options.at < *not_before) {
      return Reject(RejectReason::kNotYetValid,
                    absl::StrCat(what, " is not valid before ", FormatUtc(*not_before),
                                 "; checked at ", FormatUtc(options.at)));
    }
    if (options.at > *not_after) {
      return Reject(RejectReason::kExpired, absl::StrCat(what, " expired at ", FormatUtc(*not_after),
                                                         "; checked at ", FormatUtc(options.at)));
    }
  }

  // The library's purpose check lets a certificate without KU/EKU through; the array's profile
  // requires both.
  const uint32_t needed_eku = options.role == Role::kServer ? XKU_SSL_SERVER : XKU_SSL_CLIENT;
  if ((flags & EXFLAG_KUSAGE) == 0 || (X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE) == 0) {
    return Reject(RejectReason::kBadKeyUsage, "keyUsage digitalSignature is missing");
  }
  if ((flags & EXFLAG_XKUSAGE) == 0 || (X509_get_extended_key_usage(leaf) & needed_eku) == 0) {
    return Reject(
        RejectReason::kBadKeyUsage,
        absl::StrCat("extendedKeyUsage ",
                     options.role == Role::kServer ? "serverAuth" : "clientAuth", " is missing"));
  }
  // Belt and braces on the name: every dNSName must be exact (no wildcard anywhere) and one of
  // them must be the expected name.
  absl::StatusOr<CertificateInfo> info = internal::Describe(leaf);
  if (!info.ok()) return Reject(RejectReason::kMalformed, std::string(info.status().message()));
  bool named = false;
  for (const std::string& n : info->dns_names) {
    if (n.find('*') != std::string::npos) {
      return Reject(RejectReason::kNameMismatch, "the certificate carries a wildcard name");
    }
    absl::StatusOr<std::string> normalized = NormalizePeerName(n);
    if (normalized.ok() && *normalized == *expected) named = true;
  }
  if (!named) {
    return Reject(RejectReason::kNameMismatch,
                  absl::StrCat("the certificate is not for '", *expected, "'"));
  }
  for (int i = 1; chain != nullptr && i < static_cast<int>(sk_X509_num(chain)); ++i) {
    X509* ca = sk_X509_value(chain, i);
    const internal::KeyAssessment ca_key = internal::AssessPublicKey(X509_get_X509_PUBKEY(ca));
    if (!ca_key.allowed) {
      return Reject(RejectReason::kWeakKey,
                    absl::StrCat("issuer ", Subject(ca), " has a ", ca_key.description, " key"));
    }
    if (!AcceptedSignature(X509_get_signature_nid(ca))) {
      return Reject(RejectReason::kBadSignature,
                    absl::StrCat("issuer ", Subject(ca), " uses a weak signature algorithm"));
    }
  }
  const std::string serial = CanonicalSerial(info->serial_hex);
  for (const std::string& revoked : options.revoked_serials) {
    if (CanonicalSerial(revoked) == serial) {
      return Reject(RejectReason::kRevoked, absl::StrCat("certificate serial ", info->serial_hex,
                                                         " of ", *expected, " is revoked"));
    }
  }
  return VerificationResult{
      true, std::nullopt,
      absl::StrCat("the certificate is valid for ", *expected, " as a TLS ",
                   options.role == Role::kServer ? "server" : "client", " at ",
                   FormatUtc(options.at))};
}

}  // namespace arraykit::pki
