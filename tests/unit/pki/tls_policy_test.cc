// TLS policy: allowed suites pass, the seed's legacy suites are refused naming the allowed ones.
#include <catch2/catch.hpp>
#include <string>

#include "core/pki/tls_policy.h"

namespace arraykit::pki {
namespace {

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

TEST_CASE("default TLS policy: 1.3, or 1.2 with ECDHE + AEAD only", "[pki][tls]") {
  const TlsPolicy p = DefaultTlsPolicy();
  CHECK(p.min_version == TlsVersion::kTls12);
  CHECK(p.tls13_suites == std::vector<std::string>{"TLS_AES_128_GCM_SHA256",
                                                   "TLS_AES_256_GCM_SHA384",
                                                   "TLS_CHACHA20_POLY1305_SHA256"});
  REQUIRE(p.tls12_suites.size() == 6);
  for (const std::string& s : p.tls12_suites) {
    INFO(s);
    CHECK(s.rfind("TLS_ECDHE_", 0) == 0);
    CHECK((Contains(s, "_GCM_") || Contains(s, "CHACHA20_POLY1305")));
  }
  CHECK(p.OpenSslTls12CipherList() ==
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305");
  CHECK(p.OpenSslTls13Suites() ==
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  const nlohmann::json j = p.ToJson();
  CHECK(j["min_version"] == "TLSv1.2");
  CHECK(j["key_types"] ==
        nlohmann::json::array({"ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072"}));
  CHECK(j["groups"] == nlohmann::json::array({"X25519", "P-256", "P-384"}));
}

TEST_CASE("TLS 1.3 only drops the 1.2 suites", "[pki][tls]") {
  absl::StatusOr<TlsPolicy> p = MakeTlsPolicy(TlsVersion::kTls13, {});
  REQUIRE(p.ok());
  CHECK(p->tls12_suites.empty());
  CHECK(p->tls13_suites.size() == 3);
  absl::StatusOr<TlsPolicy> contradictory =
      MakeTlsPolicy(TlsVersion::kTls13, {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"});
  CHECK(contradictory.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("requested suites in IANA, OpenSSL and JSSE spellings", "[pki][tls]") {
  absl::StatusOr<TlsPolicy> p = MakeTlsPolicy(
      TlsVersion::kTls12, {"ECDHE-RSA-AES256-GCM-SHA384", "tls_ecdhe_ecdsa_with_aes_128_gcm_sha256",
                           "TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"});
  REQUIRE(p.ok());
  CHECK(p->tls12_suites == std::vector<std::string>{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                                                    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"});
  CHECK(p->tls13_suites == std::vector<std::string>{"TLS_AES_256_GCM_SHA384"});
  CHECK(CheckCipherSuite("SSL_ECDHE_RSA_WITH_AES_128_GCM_SHA256").value() ==
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
}

TEST_CASE("the seed's legacy suites are refused with the reason and the allowed list",
          "[pki][tls]") {
  // Every name of the seed's cipher suite table, in both of its columns.
  const std::vector<std::string> seed = {"TLS_RSA_WITH_AES_256_CBC_SHA",
                                         "TLS_RSA_WITH_AES_128_CBC_SHA",
                                         "SSL_RSA_WITH_3DES_EDE_CBC_SHA",
                                         "SSL_RSA_WITH_RC4_128_SHA",
                                         "SSL_RSA_WITH_RC4_128_MD5",
                                         "SSL_RSA_WITH_DES_CBC_SHA",
                                         "RSA_WITH_AES_256_CBC_SHA",
                                         "RSA_WITH_RC4_128_MD5",
                                         "AES128-SHA",
                                         "DES-CBC3-SHA",
                                         "RC4-MD5",
                                         "TLS_RSA_WITH_AES_128_GCM_SHA256",
                                         "ECDHE-RSA-AES128-SHA",
                                         "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
                                         "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
                                         "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
                                         "TLS_NULL_WITH_NULL_NULL",
                                         ""};
  for (const std::string& name : seed) {
    INFO(name);
    absl::StatusOr<std::string> s = CheckCipherSuite(name);
    REQUIRE(!s.ok());
    CHECK(s.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(s.status().message(), "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"));
    CHECK(Contains(s.status().message(), "TLS_AES_128_GCM_SHA256"));
  }
  CHECK(Contains(CheckCipherSuite("SSL_RSA_WITH_RC4_128_MD5").status().message(), "RC4 is broken"));
  CHECK(Contains(CheckCipherSuite("SSL_RSA_WITH_RC4_128_MD5").status().message(), "MD5"));
  CHECK(Contains(CheckCipherSuite("TLS_RSA_WITH_AES_128_CBC_SHA").status().message(),
                 "forward secrecy"));
  CHECK(Contains(CheckCipherSuite("SSL_RSA_WITH_3DES_EDE_CBC_SHA").status().message(), "3DES"));
  CHECK(Contains(CheckCipherSuite("SSL_RSA_WITH_DES_CBC_SHA").status().message(), "56-bit"));

  // A mixed request names every refused suite and accepts none of it.
  absl::StatusOr<TlsPolicy> p = MakeTlsPolicy(
      TlsVersion::kTls12, {"TLS_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA", "RC4-MD5"});
  REQUIRE(!p.ok());
  CHECK(Contains(p.status().message(), "TLS_RSA_WITH_AES_128_CBC_SHA"));
  CHECK(Contains(p.status().message(), "RC4-MD5"));
  CHECK(!Contains(p.status().message(), "refused: TLS_AES_128_GCM_SHA256"));
}

TEST_CASE("TLS versions below 1.2 are refused", "[pki][tls]") {
  CHECK(ParseTlsVersion("1.2").value() == TlsVersion::kTls12);
  CHECK(ParseTlsVersion("TLSv1.3").value() == TlsVersion::kTls13);
  CHECK(ParseTlsVersion("tls1.3").value() == TlsVersion::kTls13);
  for (const char* bad : {"1.1", "TLSv1", "SSLv3", "1.0", ""}) {
    INFO(bad);
    absl::StatusOr<TlsVersion> v = ParseTlsVersion(bad);
    REQUIRE(!v.ok());
    CHECK(Contains(v.status().message(), "TLSv1.3"));
  }
}

}  // namespace
}  // namespace arraykit::pki
