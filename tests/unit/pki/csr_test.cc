// CSRs at the edges of the parser: hand-built requests (re-encoded, re-signed, truncated, with
// trailing bytes, odd key encodings) and keys the CA refuses. SignPeerCsr must give each the
// outcome — the same refusal and, for malformed input, the same message — the crypto
// library's own X509_REQ parse gives.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/pki/csr.h"
#include "core/pki/ossl.h"
#include "core/pki/pki.h"
#include "csr_observe.h"
#include "test_util.h"

namespace arraykit::pki {
namespace {

using testing::TempDir;

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
  return internal::Tlv(0x30, p.version + p.subject + p.spki + p.attributes);
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
  return internal::Tlv(0x03, std::string(1, '\0') + sig);
}

std::string Assemble(const std::string& info, const CsrParts& p, const std::string& signature) {
  return testing::DerToPem(internal::Tlv(0x30, info + p.signature_algorithm + signature),
                           "CERTIFICATE REQUEST");
}

// What the crypto library's own PEM reader makes of `pem`.
struct LibraryParse {
  bool parsed = false;
  std::string errors;  // its error queue, when it did not parse
};
LibraryParse ParseWithLibrary(const std::string& pem) {
  internal::BioPtr bio = internal::ReadBio(pem);
  REQUIRE(bio != nullptr);
  internal::X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  std::string errors = internal::DrainErrors();
  return {req != nullptr, req != nullptr ? std::string() : errors};
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

TEST_CASE("hand-built CSRs get the library's outcome", "[pki][csr][parse]") {
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
    CHECK(old_signature.message() == "bad_signature: the CSR's signature does not verify");
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
  SECTION("bytes after the request's DER are ignored, as the library's PEM reader does") {
    const std::string pem =
        testing::DerToPem(m.der + std::string("\x00\x05trailing", 10), "CERTIFICATE REQUEST");
    CHECK(ParseWithLibrary(pem).parsed);
    const absl::StatusOr<std::string> cert = ca.SignPeerCsr(pem, Members(), now);
    INFO(cert.status().ToString());
    CHECK(cert.ok());
  }
  SECTION("every truncation is malformed, with the library's own message") {
    for (std::size_t len = 0; len < m.der.size(); ++len) {
      const std::string pem = testing::DerToPem(m.der.substr(0, len), "CERTIFICATE REQUEST");
      const absl::Status s = ca.SignPeerCsr(pem, Members(), now).status();
      INFO("first " << len << " bytes: " << s.ToString());
      REQUIRE(GetCsrRejection(s) == CsrRejection::kMalformed);
      const LibraryParse library = ParseWithLibrary(pem);
      REQUIRE(!library.parsed);
      CHECK(s.message() == "malformed: not a PEM certificate signing request: " + library.errors);
    }
  }
  SECTION("a corrupted public key point is a weak key, before the signature is looked at") {
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
    CHECK(GetCsrRejection(s) == CsrRejection::kWeakKey);
    CHECK(s.message() ==
          "weak_key: the CSR's public key cannot be used (unsupported algorithm or curve); "
          "allowed: " +
              AllowedKeyTypes());
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
    p.spki = internal::Tlv(0x30, Slice(parts.spki, algorithm) +
                                     internal::Tlv(0x03, bit_string_content));
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
    // The certificate carries the key as the request encoded it.
    CHECK(testing::PemToDer(*cert).find(p.spki) != std::string::npos);
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
    // point when y is even, a point off the curve (an unusable key) when it is odd.
    if ((point.back() & 1) == 0) {
      REQUIRE(cert.ok());
      CHECK(testing::PemToDer(*cert).find(p.spki) != std::string::npos);
    } else {
      CHECK(GetCsrRejection(cert.status()) == CsrRejection::kWeakKey);
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
    CHECK(s.message() == "weak_key: key ec key with explicit curve parameters is not allowed; "
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
    CHECK(s.message() == "weak_key: key rsa-1024 is not allowed; allowed: " + AllowedKeyTypes());
  }
  SECTION("secp256k1 names its curve") {
    testing::CliMakeCsr(dir, "k256", "/CN=boston.example.com",
                        "ec -pkeyopt ec_paramgen_curve:secp256k1");
    const absl::Status s = sign("k256");
    INFO(s.ToString());
    CHECK(GetCsrRejection(s) == CsrRejection::kWeakKey);
#if !defined(OPENSSL_IS_BORINGSSL)
    CHECK(s.message() ==
          "weak_key: key ec-secp256k1 is not allowed; allowed: " + AllowedKeyTypes());
#endif
  }
}

// DER pieces for hand-built subjects and attributes.
std::string Der(unsigned char tag, const std::string& content) { return internal::Tlv(tag, content); }
const std::string kCn("\x06\x03\x55\x04\x03", 5);
const std::string kOrganization("\x06\x03\x55\x04\x0a", 5);
const std::string kExtensionRequest("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x0e", 11);
const std::string kMsExtensionRequest("\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x01\x0e", 12);
const std::string kChallengePassword("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x07", 11);
std::string Atv(const std::string& oid, unsigned char tag, const std::string& value) {
  return Der(0x30, oid + Der(tag, value));
}
std::string Rdn(const std::string& atvs) { return Der(0x31, atvs); }
std::string Name(const std::string& rdns) { return Der(0x30, rdns); }
std::string Attribute(const std::string& oid, const std::string& values) {
  return Der(0x30, oid + Der(0x31, values));
}
// Extensions holding one subjectAltName dNSName.
std::string SanExtensions(const std::string& dns_name) {
  return Der(0x30, Der(0x30, std::string("\x06\x03\x55\x1d\x11", 5) +
                                 Der(0x04, Der(0x30, Der(0x82, dns_name)))));
}

TEST_CASE("requests at the edges of the module's reader read as the library reads them",
          "[pki][csr][parse]") {
  const Member ec = MakeMember(KeyType::kEcdsaP256);
  const Member rsa = MakeMember(KeyType::kRsa2048);
  const std::string host = "boston.example.com";
  struct Case {
    std::string what;
    const Member* member;
    CsrParts parts;
    bool read_by_module;  // on OpenSSL 3; BoringSSL always uses the library
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, const Member& m, bool read_by_module, auto edit) {
    CsrParts p = Split(m.der);
    edit(p);
    cases.push_back({std::move(what), &m, std::move(p), read_by_module});
  };
  auto subject = [](const std::string& name) { return [name](CsrParts& p) { p.subject = name; }; };
  add("O, OU-less multi-RDN subject", ec, true,
      subject(Name(Rdn(Atv(kOrganization, 0x13, "Example")) + Rdn(Atv(kCn, 0x0c, host)))));
  add("multi-valued RDN", ec, true,
      subject(Name(Rdn(Atv(kCn, 0x16, host) + Atv(kOrganization, 0x0c, "Example")))));
  add("two CNs", ec, true, subject(Name(Rdn(Atv(kCn, 0x0c, host)) + Rdn(Atv(kCn, 0x0c, "x")))));
  add("no RDN at all", ec, true, subject(Name("")));
  add("CN as T61String", ec, false, subject(Name(Rdn(Atv(kCn, 0x14, host)))));
  add("CN as BMPString", ec, false,
      subject(Name(Rdn(Atv(kCn, 0x1e, std::string("\0b\0o\0s", 6))))));
  add("CN with UTF-8 beyond ASCII", ec, false,
      subject(Name(Rdn(Atv(kCn, 0x0c, "b\xc3\xb6ston.example.com")))));
  add("CN with a control character", ec, false, subject(Name(Rdn(Atv(kCn, 0x0c, "a\tb")))));
  add("empty CN", ec, false, subject(Name(Rdn(Atv(kCn, 0x0c, "")))));
  add("empty RDN", ec, false, subject(Name(Rdn("") + Rdn(Atv(kCn, 0x0c, host)))));
  add("OID with a padding octet", ec, false,
      subject(Name(Rdn(Atv(std::string("\x06\x04\x55\x80\x04\x03", 6), 0x0c, host)))));
  add("subject with a long-form short length", ec, false, [&](CsrParts& p) {
    const std::string content = Rdn(Atv(kCn, 0x0c, host));
    p.subject = std::string("\x30\x81", 2) + static_cast<char>(content.size()) + content;
  });
  add("challengePassword attribute", ec, false, [&](CsrParts& p) {
    p.attributes = Der(0xa0, Attribute(kChallengePassword, Der(0x13, "secret")) +
                                 Attribute(kExtensionRequest, SanExtensions(host)));
  });
  add("attribute without values", ec, false,
      [&](CsrParts& p) { p.attributes = Der(0xa0, Attribute(kExtensionRequest, "")); });
  add("empty attributes", ec, true, [&](CsrParts& p) { p.attributes = Der(0xa0, ""); });
  add("Microsoft's extension request before the standard one", ec, true, [&](CsrParts& p) {
    p.attributes = Der(0xa0, Attribute(kMsExtensionRequest, SanExtensions("newyork.example.com")) +
                                 Attribute(kExtensionRequest, SanExtensions(host)));
  });
  add("Microsoft's extension request alone", ec, true, [&](CsrParts& p) {
    p.attributes = Der(0xa0, Attribute(kMsExtensionRequest, SanExtensions(host)));
  });
  add("two values in the extension request", ec, true, [&](CsrParts& p) {
    p.attributes =
        Der(0xa0, Attribute(kExtensionRequest, SanExtensions(host) + SanExtensions("other")));
  });
  add("unreadable extensions", ec, true, [&](CsrParts& p) {
    p.attributes = Der(0xa0, Attribute(kExtensionRequest, Der(0x30, Der(0x02, "\x01"))));
  });
  add("ECDSA signature algorithm with NULL parameters", ec, false, [](CsrParts& p) {
    p.signature_algorithm =
        Der(0x30, std::string("\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02\x05\x00", 12));
  });
  add("RSA signature algorithm on an EC key", ec, false, [](CsrParts& p) {
    p.signature_algorithm =
        Der(0x30, std::string("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00", 13));
  });
  add("version 1", ec, false, [](CsrParts& p) { p.version = std::string("\x02\x01\x01", 3); });
  add("rsaEncryption without parameters", rsa, false, [](CsrParts& p) {
    const Tlv spki = ReadTlv(p.spki, 0);
    const Tlv algorithm = ReadTlv(p.spki, spki.header);
    const std::string bits = Slice(p.spki, ReadTlv(p.spki, algorithm.end()));
    p.spki = Der(0x30, Der(0x30, std::string("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 11)) +
                           bits);
  });
  add("RSA modulus with a redundant leading zero", rsa, false, [](CsrParts& p) {
    const Tlv spki = ReadTlv(p.spki, 0);
    const Tlv algorithm = ReadTlv(p.spki, spki.header);
    const Tlv bits = ReadTlv(p.spki, algorithm.end());
    const std::string key = Content(p.spki, bits).substr(1);  // RSAPublicKey
    const Tlv sequence = ReadTlv(key, 0);
    const Tlv n = ReadTlv(key, sequence.header);
    const std::string e = Slice(key, ReadTlv(key, n.end()));
    const std::string padded_key = Der(0x30, Der(0x02, std::string(1, '\0') + Content(key, n)) + e);
    p.spki = Der(0x30, Slice(p.spki, algorithm) + Der(0x03, std::string(1, '\0') + padded_key));
  });

  for (const Case& c : cases) {
    INFO(c.what);
    const std::string info = Info(c.parts);
    const std::string pem = Assemble(info, c.parts, SignInfo(info, c.member->key.get()));
    CHECK(testing::CompareCsrParsers(pem) == "");
    const absl::StatusOr<internal::ParsedCsr> parsed = internal::ParsedCsr::Parse(pem);
    if (!parsed.ok()) continue;  // the library refuses it too (compared above)
#if defined(OPENSSL_IS_BORINGSSL)
    CHECK(!parsed->parsed_locally());
#else
    CHECK(parsed->parsed_locally() == c.read_by_module);
#endif
  }
}

std::string Pem(const Member& m) { return testing::DerToPem(m.der, "CERTIFICATE REQUEST"); }

// The request `victim` asks for, signed by `signer` instead of its own key.
std::string Forged(const Member& victim, const Member& signer) {
  const CsrParts p = Split(victim.der);
  const std::string info = Info(p);
  return Assemble(info, p, SignInfo(info, signer.key.get()));
}

// Empty when `cert` was issued for `member`'s key; what went wrong otherwise.
std::string IssuedFor(const absl::StatusOr<std::string>& cert, const Member& member) {
  if (!cert.ok()) return cert.status().ToString();
  if (testing::PemToDer(*cert).find(Split(member.der).spki) == std::string::npos) {
    return "the certificate carries another key";
  }
  return "";
}

TEST_CASE("the verification key pool hands each key to one holder", "[pki][csr][pool]") {
  using Curve = internal::VerificationKeyPool::Curve;
  internal::VerificationKeyPool pool;
  CHECK(pool.Take(Curve::kP256) == nullptr);
  EVP_PKEY* first = EVP_PKEY_new();
  REQUIRE(first != nullptr);
  pool.Give(Curve::kP256, first);
  CHECK(pool.Take(Curve::kP384) == nullptr);  // kept per curve
  EVP_PKEY* taken = pool.Take(Curve::kP256);
  CHECK(taken == first);
  CHECK(pool.Take(Curve::kP256) == nullptr);  // never to two holders
  pool.Give(Curve::kP256, taken);
  // More keys than slots: the surplus is freed (the sanitizer build sees a leak otherwise).
  for (int i = 0; i < 6; ++i) pool.Give(Curve::kP256, EVP_PKEY_new());
  std::vector<EVP_PKEY*> held;
  while (EVP_PKEY* k = pool.Take(Curve::kP256)) held.push_back(k);
  CHECK(held.size() == 4);
  for (EVP_PKEY* k : held) pool.Give(Curve::kP256, k);
  // The pool frees what it keeps when destroyed.
}

TEST_CASE("a kept verification key never vouches for another request", "[pki][csr][pool]") {
  const absl::Time now = testing::TestNow();
  const CertificateAuthority ca = testing::MakeCa(now);
  const Member a = MakeMember(KeyType::kEcdsaP256);
  const Member b = MakeMember(KeyType::kEcdsaP256);
  const Member c = MakeMember(KeyType::kEcdsaP384);
  auto sign = [&](const std::string& pem) { return ca.SignPeerCsr(pem, Members(), now); };
  auto bad_signature = [](const absl::StatusOr<std::string>& cert) {
    return !cert.ok() && GetCsrRejection(cert.status()) == CsrRejection::kBadSignature;
  };
  // A's key with its point's last octet changed: off the curve, so no usable key.
  CsrParts off = Split(a.der);
  off.spki.back() = static_cast<char>(off.spki.back() ^ 0x01);
  const std::string off_info = Info(off);
  const std::string off_curve = Assemble(off_info, off, SignInfo(off_info, a.key.get()));

  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    CHECK(IssuedFor(sign(Pem(a)), a).empty());
    CHECK(bad_signature(sign(Forged(b, a))));  // B's key, signed by A just before
    CHECK(IssuedFor(sign(Pem(b)), b).empty());
    CHECK(bad_signature(sign(Forged(a, b))));
    CHECK(IssuedFor(sign(Pem(c)), c).empty());
    CHECK(bad_signature(sign(Forged(c, b))));
    const absl::StatusOr<std::string> refused = sign(off_curve);
    INFO(refused.status().ToString());
    CHECK(GetCsrRejection(refused.status()) == CsrRejection::kWeakKey);
    CHECK(bad_signature(sign(Forged(a, b))));  // after a key whose point was refused
  }
}

TEST_CASE("concurrent requests each get their own key verified", "[pki][csr][pool][threads]") {
  const absl::Time now = testing::TestNow();
  const CertificateAuthority ca = testing::MakeCa(now);
  constexpr int kThreads = 4;
  constexpr int kRounds = 25;
  std::vector<Member> members;
  std::vector<std::string> own, forged;
  for (int t = 0; t < kThreads; ++t) {
    members.push_back(MakeMember(t % 2 == 0 ? KeyType::kEcdsaP256 : KeyType::kEcdsaP384));
  }
  for (int t = 0; t < kThreads; ++t) {
    own.push_back(Pem(members[t]));
    // This member's request signed by the next member, whose requests run at the same time.
    forged.push_back(Forged(members[t], members[(t + 1) % kThreads]));
  }
  std::vector<std::vector<std::string>> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const std::string wrong = IssuedFor(ca.SignPeerCsr(own[t], Members(), now), members[t]);
        if (!wrong.empty()) failures[t].push_back(wrong);
        const absl::StatusOr<std::string> refused = ca.SignPeerCsr(forged[t], Members(), now);
        if (refused.ok() || GetCsrRejection(refused.status()) != CsrRejection::kBadSignature) {
          failures[t].push_back("forged request: " + refused.status().ToString());
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t);
    CHECK(failures[t].empty());
    if (!failures[t].empty()) CHECK(failures[t].front() == "");
  }
}

}  // namespace
}  // namespace arraykit::pki
