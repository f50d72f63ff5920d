// TLS policy for intra-array connections (DESIGN.md §6), as data the transport applies later:
// TLS 1.3, or TLS 1.2 with ECDHE key exchange and AEAD ciphers only. The seed product's legacy
// suites (static RSA, CBC, RC4, DES, 3DES, MD5) are refused with a message naming the allowed
// ones, so an operator carrying over an old setting learns what to use instead.
#ifndef ARRAYKIT_CORE_PKI_TLS_POLICY_H_
#define ARRAYKIT_CORE_PKI_TLS_POLICY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/pki/pki.h"
#include "nlohmann/json.hpp"

namespace arraykit::pki {

enum class TlsVersion { kTls12, kTls13 };
std::string_view ToString(TlsVersion version);  // "TLSv1.2", "TLSv1.3"
// "1.2", "1.3", "tls1.2", "TLSv1.3", ... Older versions are refused.
absl::StatusOr<TlsVersion> ParseTlsVersion(std::string_view text);

struct TlsPolicy {
  TlsVersion min_version = TlsVersion::kTls12;
  std::vector<std::string> tls13_suites;  // IANA names, preference order
  std::vector<std::string> tls12_suites;  // IANA names, ECDHE + AEAD only; empty when 1.3 only
  std::vector<std::string> groups;        // key exchange groups
  std::vector<KeyType> key_types;         // certificate keys the array accepts

  // OpenSSL-style lists for SSL_CTX_set_ciphersuites (1.3) and SSL_CTX_set_cipher_list (1.2).
  std::string OpenSslTls13Suites() const;
  std::string OpenSslTls12CipherList() const;
  // {"min_version", "tls13_suites", "tls12_suites", "groups", "key_types"}
  nlohmann::json ToJson() const;
};

// TLS 1.2 minimum with all allowed suites; TLS 1.3 is always offered and preferred.
TlsPolicy DefaultTlsPolicy();

// A policy from an operator's request. `suites` may use IANA ("TLS_ECDHE_RSA_WITH_AES_128_GCM_
// SHA256"), OpenSSL ("ECDHE-RSA-AES128-GCM-SHA256") or JSSE ("SSL_...") spellings; empty means
// all allowed suites. Every refused suite is named in one error, with the reason and the list
// of allowed suites. TLS 1.2 suites with a TLS 1.3 minimum are refused as contradictory.
absl::StatusOr<TlsPolicy> MakeTlsPolicy(TlsVersion min_version,
                                        const std::vector<std::string>& suites);

// The IANA name of an allowed suite, or INVALID_ARGUMENT naming the allowed suites.
absl::StatusOr<std::string> CheckCipherSuite(std::string_view name);

// "TLS 1.3: TLS_AES_128_GCM_SHA256, ...; TLS 1.2 (ECDHE + AEAD): ..."
std::string AllowedCipherSuites();

}  // namespace arraykit::pki

#endif  // ARRAYKIT_CORE_PKI_TLS_POLICY_H_
