// CSRs at the edges: hand-built requests (re-encoded, re-signed, truncated, with trailing
// bytes, odd key encodings) and keys the CA refuses. The crypto library parses every request;
// SignPeerCsr must give each the refusal its DESIGN.md §6 reason names.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/pki/ossl.h"
#include "core/pki/pki.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using testing::TempDir;

// A DER element with a single-octet tag and a definite length (test inputs only).
std::string Der(unsigned char tag, const std::string& content) {
  std::string out(1, static_cast<char>(tag));
  const std::size_t len = content.size();
  if (len < 0x80) {
    out.push_back(static_cast<char>(len));
  } else {
    std::string octets;
    for (std::size_t v = len; v != 0; v >>= 8) octets.insert(0, 1, static_cast<char>(v & 0xFF));
    out.push_back(static_cast<char>(0x80 | octets.size()));
    out += octets;
  }
  return out + content;
}

PeerCertificateOptions Members() {
  PeerCertificateOptions o;
  o.member_names = {"boston.example.com", "newyork.example.com"};
  return o;
}

// One DER element: where it starts, its header length and its content length.
struct Tlv {
  std::size_t start = 0;
  std::size_t header = 0;
  std::size_t length = 0;
  std::size_t end() const { return start + header + length; }
};

// Reads the element at `pos` (definite lengths only; the inputs are our own DER).
Tlv ReadTlv(const std::string& der, std::size_t pos) {
  Tlv t;
  t.start = pos;
  REQUIRE(pos + 2 <= der.size());
  const auto first = static_cast<unsigned char>(der[pos + 1]);
  if (first < 0x80) {
    t.header = 2;
    t.length = first;
  } else {
    const std::size_t n = first & 0x7F;
    REQUIRE(pos + 2 + n <= der.size());
    t.header = 2 + n;
    for (std::size_t i = 0; i < n; ++i) {
      t.length = (t.length << 8) | static_cast<unsigned char>(der[pos + 2 + i]);
    }
  }
  REQUIRE(t.end() <= der.size());
  return t;
}

std::string Slice(const std::string& der, const Tlv& t) {
  return der.substr(t.start, t.end() - t.start);
}
std::string Content(const std::string& der, const Tlv& t) {
  return der.substr(t.start + t.header, t.length);
}

// The parts of a request and of its CertificationRequestInfo, each a whole TLV.
struct CsrParts {
  std::string version, subject, spki, attributes;  // attributes: "" when absent
  std::string signature_algorithm, signature;
};

CsrParts Split(const std::string& der) {
  const Tlv outer = ReadTlv(der, 0);
  const Tlv info = ReadTlv(der, outer.header);
  const Tlv sigalg = ReadTlv(der, info.end());
  const Tlv sig = ReadTlv(der, sigalg.end());
  CsrParts p;
  const Tlv version = ReadTlv(der, info.start + info.header);
  const Tlv subject = ReadTlv(der, version.end());
  const Tlv spki = ReadTlv(der, subject.end());
  p.version = Slice(der, version);
  p.subject = Slice(der, subject);
  p.spki = Slice(der, spki);
  if (spki.end() < info.end()) p.attributes = Slice(der, ReadTlv(der, spki.end()));
  p.signature_algorithm = Slice(der, sigalg);
  p.signature = Slice(der, sig);
  return p;
}

std::string Info(const CsrParts& p) {
  return Der(0x30, p.version + p.subject + p.spki + p.attributes);
}

// The request's signature over `info` (any bytes) with `key`: SHA-384 for P-384 keys, as
// CreateCsr signs, SHA-256 otherwise.
std::string SignInfo(const std::string& info, EVP_PKEY* key) {
  const EVP_MD* digest = EVP_PKEY_bits(key) == 384 ? EVP_sha384() : EVP_sha256();
  std::unique_ptr<EVP_MD_CTX, internal::Deleter<EVP_MD_CTX, EVP_MD_CTX_free>> ctx(
      EVP_MD_CTX_new());
  REQUIRE(ctx != nullptr);
  REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, digest, nullptr, key) == 1);
  std::size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(info.data());
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, data, info.size()) == 1);
  std::string sig(len, '\0');
  REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                         info.size()) == 1);
  sig.resize(len);
  return Der(0x03, std::string(1, '\0') + sig);
}

std::string Assemble(const std::string& info, const CsrParts& p, const std::string& signature) {
  return testing::DerToPem(Der(0x30, info + p.signature_algorithm + signature),
                           "CERTIFICATE REQUEST");
}

struct Member {
  internal::EvpPkeyPtr key;
  std::string der;  // its CSR for boston.example.com
};

Member MakeMember(KeyType type) {
  absl::StatusOr<SecretString> pem = GeneratePrivateKey(type);
  REQUIRE(pem.ok());
  absl::StatusOr<std::string> csr = CreateCsr(pem->view(), "boston.example.com");
  REQUIRE(csr.ok());
  absl::StatusOr<internal::EvpPkeyPtr> key = internal::ParsePrivateKey(pem->view());
  REQUIRE(key.ok());
  return {*std::move(key), testing::PemToDer(*csr)};
}

TEST_CASE("hand-built CSRs get the outcome their reason names", "[pki][csr][parse]") {
  const absl::Time now = testing::TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  const KeyType type = GENERATE(KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa2048);
  INFO("member key " << ToString(type));
  Member m = MakeMember(type);
  const CsrParts parts = Split(m.der);

  SECTION("re-signing our own info changes nothing") {
    const std::string info = Info(parts);
    CHECK(ca.SignPeerCsr(Assemble(info, parts, SignInfo(info, m.key.get())), Members(), now).ok());
  }
  SECTION("an info encoded with a non-minimal length is verified over its own bytes") {
    const std::string content = parts.version + parts.subject + parts.spki + parts.attributes;
    REQUIRE(content.size() >= 0x80);
    REQUIRE(content.size() < 0x10000);
    // 30 83 00 HH LL: BER accepts the leading zero octet, DER does not.
    std::string info("\x30\x83\x00", 3);
    info.push_back(static_cast<char>(content.size() >> 8));
    info.push_back(static_cast<char>(content.size() & 0xFF));
    info += content;
    const absl::StatusOr<std::string> signed_over_ber =
        ca.SignPeerCsr(Assemble(info, parts, SignInfo(info, m.key.get())), Members(), now);
    // The original signature covers the DER form of the info, not these bytes.
    const absl::Status old_signature =
        ca.SignPeerCsr(Assemble(info, parts, parts.signature), Members(), now).status();
    // Both libraries accept the BER length here and check the signature over the bytes received.
    INFO(signed_over_ber.status().ToString());
    INFO(old_signature.ToString());
    CHECK(signed_over_ber.ok());
    CHECK(GetCsrRejection(old_signature) == CsrRejection::kBadSignature);
    CHECK(old_signature.code() == absl::StatusCode::kPermissionDenied);
    CHECK(old_signature.message() == "the CSR's signature does not verify");
  }
  SECTION("a request without the attributes field is issued (CN only)") {
    CsrParts bare = parts;
    bare.attributes.clear();
    const std::string info = Info(bare);
    const absl::StatusOr<std::string> cert =
        ca.SignPeerCsr(Assemble(info, bare, SignInfo(info, m.key.get())), Members(), now);
    INFO(cert.status().ToString());
    CHECK(cert.ok());
  }
  SECTION("a request claiming version 2 is judged like the library judges it") {
    CsrParts v2 = parts;
    REQUIRE(v2.version == std::string("\x02\x01\x00", 3));
    v2.version = std::string("\x02\x01\x01", 3);
    const std::string info = Info(v2);
    const absl::StatusOr<std::string> cert =
        ca.SignPeerCsr(Assemble(info, v2, SignInfo(info, m.key.get())), Members(), now);
    INFO(cert.status().ToString());
#if defined(OPENSSL_IS_BORINGSSL)
    CHECK(GetCsrRejection(cert.status()) == CsrRejection::kMalformed);  // INVALID_VERSION
#else
    CHECK(cert.ok());  // OpenSSL 3.0 does not check the request's version
#endif
  }
  SECTION("bytes after the request's DER are malformed, inside a PEM block or as DER") {
    const std::string trailing = m.der + std::string("\x00\x05trailing", 10);
    for (const std::string& input :
         {testing::DerToPem(trailing, "CERTIFICATE REQUEST"), trailing}) {
      const absl::Status s = ca.SignPeerCsr(input, Members(), now).status();
      INFO(s.ToString());
      CHECK(GetCsrRejection(s) == CsrRejection::kMalformed);
      CHECK(s.code() == absl::StatusCode::kPermissionDenied);
      CHECK(s.message() == "certificate request: 10 trailing bytes after the DER");
    }
    // The same request without them is issued, as DER and as PEM.
    CHECK(ca.SignPeerCsr(m.der, Members(), now).ok());
  }
  SECTION("a second request after the first is malformed") {
    const std::string pem = testing::DerToPem(m.der, "CERTIFICATE REQUEST");
    const absl::Status s = ca.SignPeerCsr(pem + pem, Members(), now).status();
    CHECK(GetCsrRejection(s) == CsrRejection::kMalformed);
    CHECK(s.message() ==
          "certificate request: more than one PEM block; exactly one is accepted");
  }
  SECTION("every truncation is malformed") {
    for (std::size_t len = 0; len < m.der.size(); ++len) {
      const std::string pem = testing::DerToPem(m.der.substr(0, len), "CERTIFICATE REQUEST");
      const absl::Status s = ca.SignPeerCsr(pem, Members(), now).status();
      INFO("first " << len << " bytes: " << s.ToString());
      REQUIRE(GetCsrRejection(s) == CsrRejection::kMalformed);
    }
  }
  SECTION("a corrupted public key is refused before the signature is looked at") {
    CsrParts bad = parts;
    if (type == KeyType::kRsa2048) {
      // The INTEGER tag of the modulus inside the BIT STRING becomes an OCTET STRING.
      const std::size_t pos = bad.spki.find(std::string("\x03\x82\x01\x0f\x00\x30\x82\x01\x0a\x02", 10));
      REQUIRE(pos != std::string::npos);
      bad.spki[pos + 9] = '\x04';
    } else {
      bad.spki.back() = static_cast<char>(bad.spki.back() ^ 0x01);  // y: off the curve
    }
    const absl::Status s =
        ca.SignPeerCsr(Assemble(Info(bad), bad, parts.signature), Members(), now).status();
    INFO(s.ToString());
#if defined(OPENSSL_IS_BORINGSSL)
    // BoringSSL's X509_REQ cannot tell an undecodable key from an unsupported one.
    CHECK(GetCsrRejection(s) == CsrRejection::kWeakKey);
#else
    // The algorithm is allowed; the key itself does not decode (an EC point off the curve).
    CHECK(GetCsrRejection(s) == CsrRejection::kMalformed);
    CHECK(s.message().find("cannot be decoded") != absl::string_view::npos);
#endif
  }
}

TEST_CASE("EC public key encodings other than the uncompressed point", "[pki][csr][parse]") {
  const absl::Time now = testing::TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  Member m = MakeMember(KeyType::kEcdsaP256);
  const CsrParts parts = Split(m.der);
  const Tlv spki = ReadTlv(parts.spki, 0);
  const Tlv algorithm = ReadTlv(parts.spki, spki.header);
  const Tlv bits = ReadTlv(parts.spki, algorithm.end());
  const std::string point = Content(parts.spki, bits).substr(1);  // after the unused-bits octet
  REQUIRE(point.size() == 65);
  REQUIRE(point[0] == '\x04');
  auto with_key_bits = [&](const std::string& bit_string_content) {
    CsrParts p = parts;
    p.spki = Der(0x30, Slice(parts.spki, algorithm) +
                                     Der(0x03, bit_string_content));
    return p;
  };

  SECTION("a compressed point is the same key") {
    std::string compressed(1, static_cast<char>(0x02 | (point.back() & 1)));
    compressed += point.substr(1, 32);
    const CsrParts p = with_key_bits(std::string(1, '\0') + compressed);
    const std::string info = Info(p);
    const absl::StatusOr<std::string> cert =
        ca.SignPeerCsr(Assemble(info, p, SignInfo(info, m.key.get())), Members(), now);
#if defined(OPENSSL_IS_BORINGSSL)
    INFO(cert.status().ToString());
    CHECK((cert.ok() || GetCsrRejection(cert.status()) == CsrRejection::kWeakKey));
#else
    INFO(cert.status().ToString());
    REQUIRE(cert.ok());
#endif
  }
  SECTION("a BIT STRING claiming unused bits") {
    const CsrParts p = with_key_bits(std::string(1, '\x01') + point);
    const std::string info = Info(p);
    const absl::StatusOr<std::string> cert =
        ca.SignPeerCsr(Assemble(info, p, SignInfo(info, m.key.get())), Members(), now);
    INFO(cert.status().ToString());
#if defined(OPENSSL_IS_BORINGSSL)
    CHECK(!cert.ok());
#else
    // OpenSSL 3.0 clears the bit the count declares unused, then decodes the key: the same
    // point when y is even, a point off the curve (an undecodable key) when it is odd.
    if ((point.back() & 1) == 0) {
      REQUIRE(cert.ok());
    } else {
      CHECK(GetCsrRejection(cert.status()) == CsrRejection::kMalformed);
    }
#endif
  }
}

TEST_CASE("keys the CA refuses keep their reasons", "[pki][csr][parse]") {
  const absl::Time now = testing::TestNow();
  CertificateAuthority ca = testing::MakeCa(now);
  TempDir dir;
  auto sign = [&](const std::string& name) {
    return ca.SignPeerCsr(testing::ReadFile(dir.File(name + ".csr")), Members(), now).status();
  };
  SECTION("P-256 with explicit curve parameters") {
    testing::CliMakeCsr(dir, "explicit", "/CN=boston.example.com",
                        "ec -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:explicit");
    const absl::Status s = sign("explicit");
    INFO(s.ToString());
    CHECK(GetCsrRejection(s) == CsrRejection::kWeakKey);
#if !defined(OPENSSL_IS_BORINGSSL)
    CHECK(s.message() == "key ec key with explicit curve parameters is not allowed; "
                         "allowed: " +
                             AllowedKeyTypes());
#endif
  }
  SECTION("Ed25519") {
    testing::CliMakeCsr(dir, "ed", "/CN=boston.example.com", "ed25519");
    const absl::Status s = sign("ed");
    INFO(s.ToString());
    CHECK(GetCsrRejection(s) == CsrRejection::kWeakKey);
  }
  SECTION("RSA-PSS") {
    testing::CliMakeCsr(dir, "pss", "/CN=boston.example.com",
                        "rsa-pss -pkeyopt rsa_keygen_bits:2048");
    const absl::Status s = sign("pss");
    INFO(s.ToString());
    CHECK(GetCsrRejection(s) == CsrRejection::kWeakKey);
  }
  SECTION("RSA-1024 names its size") {
    testing::CliMakeCsr(dir, "rsa1024", "/CN=boston.example.com", "rsa:1024");
    const absl::Status s = sign("rsa1024");
    CHECK(s.message() == "key rsa-1024 is not allowed; allowed: " + AllowedKeyTypes());
  }
  SECTION("secp256k1 names its curve") {
    testing::CliMakeCsr(dir, "k256", "/CN=boston.example.com",
                        "ec -pkeyopt ec_paramgen_curve:secp256k1");
    const absl::Status s = sign("k256");
    INFO(s.ToString());
    CHECK(GetCsrRejection(s) == CsrRejection::kWeakKey);
#if !defined(OPENSSL_IS_BORINGSSL)
    CHECK(s.message() ==
          "key ec-secp256k1 is not allowed; allowed: " + AllowedKeyTypes());
#endif
  }
}

}  // namespace
}  // namespace arraykit::pki
