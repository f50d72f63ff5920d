#include "core/pki/tls_policy.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/pki/ossl.h"

namespace arraykit::pki {
namespace {

using internal::Av;

struct Suite {
  const char* iana;
  const char* openssl;
  bool tls13;
};

// Preference order: AES-GCM (hardware accelerated on appliances), then ChaCha20-Poly1305.
constexpr Suite kAllowed[] = {
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", true},
    {"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", true},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", true},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", false},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", false},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", false},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", false},
};

// Why a suite is refused, from the parts of its name.
std::string WhyRefused(const std::string& upper) {
  std::vector<std::string> why;
  if (absl::StrContains(upper, "RC4")) why.push_back("RC4 is broken");
  if (absl::StrContains(upper, "3DES") || absl::StrContains(upper, "DES-CBC3") ||
      absl::StrContains(upper, "DES_EDE")) {
    why.push_back("3DES has a 64-bit block (Sweet32)");
  } else if (absl::StrContains(upper, "DES")) {
    why.push_back("DES has a 56-bit key");
  }
  if (absl::StrContains(upper, "MD5")) why.push_back("MD5 is broken");
  if (absl::StrContains(upper, "NULL")) why.push_back("no encryption");
  if (absl::StrContains(upper, "EXPORT") || absl::StrContains(upper, "EXP-")) {
    why.push_back("export-grade");
  }
  if (absl::StrContains(upper, "ANON") || absl::StrContains(upper, "ADH") ||
      absl::StrContains(upper, "AECDH")) {
    why.push_back("no authentication");
  }
  const bool ecdhe = absl::StrContains(upper, "ECDHE");
  if (!ecdhe && (absl::StartsWith(upper, "TLS_RSA_") || absl::StartsWith(upper, "SSL_RSA_") ||
                 absl::StartsWith(upper, "RSA_") || absl::StartsWith(upper, "AES") ||
                 absl::StartsWith(upper, "RC4-") || absl::StartsWith(upper, "DES-"))) {
    why.push_back("static RSA key exchange has no forward secrecy");
  } else if (!ecdhe) {
    why.push_back("key exchange is not ECDHE");
  }
  if (absl::StrContains(upper, "CBC") || absl::EndsWith(upper, "_SHA") ||
      absl::EndsWith(upper, "-SHA")) {
    why.push_back("CBC with HMAC is not an AEAD cipher");
  }
  if (why.empty()) why.push_back("not on the allowed list");
  return absl::StrJoin(why, ", ");
}

const Suite* Find(const std::string& upper) {
  for (const Suite& s : kAllowed) {
    if (upper == s.iana || upper == s.openssl) return &s;
  }
  return nullptr;
}

}  // namespace

std::string_view ToString(TlsVersion version) {
  return version == TlsVersion::kTls13 ? "TLSv1.3" : "TLSv1.2";
}

absl::StatusOr<TlsVersion> ParseTlsVersion(std::string_view text) {
  std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(Av(text)));
  if (absl::StartsWith(t, "tlsv")) t = t.substr(4);
  if (absl::StartsWith(t, "tls")) t = t.substr(3);
  if (t == "1.2" || t == "12" || t == "1_2") return TlsVersion::kTls12;
  if (t == "1.3" || t == "13" || t == "1_3") return TlsVersion::kTls13;
  return absl::InvalidArgumentError(absl::StrCat(
      "TLS version '", Av(text), "' is not allowed; allowed: TLSv1.3, or TLSv1.2 with ",
      "ECDHE + AEAD suites (SSLv3, TLS 1.0 and 1.1 are refused)"));
}

std::string AllowedCipherSuites() {
  std::vector<std::string> v13;
  std::vector<std::string> v12;
  for (const Suite& s : kAllowed) (s.tls13 ? v13 : v12).push_back(s.iana);
  return absl::StrCat("TLS 1.3: ", absl::StrJoin(v13, ", "),
                      "; TLS 1.2 (ECDHE + AEAD): ", absl::StrJoin(v12, ", "));
}

absl::StatusOr<std::string> CheckCipherSuite(std::string_view name) {
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(Av(name)));
  // The seed's JSSE names spell the same suites with an SSL_ prefix.
  std::string iana = absl::StartsWith(upper, "SSL_") ? "TLS_" + upper.substr(4) : upper;
  if (const Suite* s = Find(iana); s != nullptr) return std::string(s->iana);
  return absl::InvalidArgumentError(absl::StrCat("cipher suite '", Av(name), "' is refused (",
                                                 WhyRefused(upper),
                                                 "); allowed: ", AllowedCipherSuites()));
}

TlsPolicy DefaultTlsPolicy() {
  absl::StatusOr<TlsPolicy> policy = MakeTlsPolicy(TlsVersion::kTls12, {});
  return *policy;  // the empty request always succeeds
}

absl::StatusOr<TlsPolicy> MakeTlsPolicy(TlsVersion min_version,
                                        const std::vector<std::string>& suites) {
  constexpr std::size_t kMaxSuites = 64;
  if (suites.size() > kMaxSuites) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxSuites, " cipher suites"));
  }
  TlsPolicy policy;
  policy.min_version = min_version;
  policy.groups = {"X25519", "P-256", "P-384"};
  policy.key_types = {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa2048,
                      KeyType::kRsa3072};
  std::vector<std::string> refused;
  std::vector<std::string> chosen;
  if (suites.empty()) {
    for (const Suite& s : kAllowed) chosen.push_back(s.iana);
  }
  for (const std::string& name : suites) {
    absl::StatusOr<std::string> iana = CheckCipherSuite(name);
    if (!iana.ok()) {
      std::string upper = absl::AsciiStrToUpper(name);
      refused.push_back(absl::StrCat(name, " (", WhyRefused(upper), ")"));
      continue;
    }
    if (std::find(chosen.begin(), chosen.end(), *iana) == chosen.end()) chosen.push_back(*iana);
  }
  if (!refused.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cipher suites refused: ", absl::StrJoin(refused, "; "),
                     ". Allowed: ", AllowedCipherSuites()));
  }
  for (const std::string& iana : chosen) {
    const bool tls13 = Find(iana)->tls13;
    if (!tls13 && min_version == TlsVersion::kTls13) {
      if (suites.empty()) continue;  // the default list simply drops 1.2 suites
      return absl::InvalidArgumentError(absl::StrCat(
          "cipher suite ", iana, " is a TLS 1.2 suite but the minimum version is TLSv1.3"));
    }
    (tls13 ? policy.tls13_suites : policy.tls12_suites).push_back(iana);
  }
  // TLS 1.3 is always available: its suites are all AEAD with ECDHE/X25519.
  if (policy.tls13_suites.empty()) {
    for (const Suite& s : kAllowed) {
      if (s.tls13) policy.tls13_suites.push_back(s.iana);
    }
  }
  return policy;
}

std::string TlsPolicy::OpenSslTls13Suites() const { return absl::StrJoin(tls13_suites, ":"); }

std::string TlsPolicy::OpenSslTls12CipherList() const {
  std::vector<std::string> names;
  for (const std::string& iana : tls12_suites) names.push_back(Find(iana)->openssl);
  return absl::StrJoin(names, ":");
}

nlohmann::json TlsPolicy::ToJson() const {
  nlohmann::json keys = nlohmann::json::array();
  for (KeyType k : key_types) keys.push_back(ToString(k));
  return nlohmann::json{{"min_version", ToString(min_version)},
                        {"tls13_suites", tls13_suites},
                        {"tls12_suites", tls12_suites},
                        {"groups", groups},
                        {"key_types", keys},
                        {"openssl_tls13_suites", OpenSslTls13Suites()},
                        {"openssl_tls12_cipher_list", OpenSslTls12CipherList()}};
}

}  // namespace arraykit::pki
