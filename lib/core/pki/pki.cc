#include "core/pki/pki.h"

#include "core/model/array.h"

#include <openssl/asn1.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/pki/csr.h"
#include "core/model/json_reader.h"
#include "core/pki/ossl.h"

namespace arraykit::pki {
namespace {

using internal::Av;
using internal::BioPtr;
using internal::DrainErrors;
using internal::EvpPkeyCtxPtr;
using internal::EvpPkeyPtr;
using internal::Sv;
using internal::X509ExtensionPtr;
using internal::X509Ptr;
using internal::X509ReqPtr;

constexpr absl::string_view kCsrRejectionUrl = "type.arraykit.dev/arraykit.pki.CsrRejection";

constexpr CsrRejection kAllCsrRejections[] = {
    CsrRejection::kMalformed,    CsrRejection::kBadSignature, CsrRejection::kNotAMember,
    CsrRejection::kNameMismatch, CsrRejection::kWeakKey,      CsrRejection::kBadSubjectAltName,
};

absl::Status Refuse(CsrRejection rejection, absl::string_view message) {
  const std::string code(ToString(rejection));
  const std::string text = absl::StrCat(code, ": ", message);
  absl::Status status = rejection == CsrRejection::kMalformed ? absl::InvalidArgumentError(text)
                                                              : absl::PermissionDeniedError(text);
  status.SetPayload(kCsrRejectionUrl, absl::Cord(code));
  return status;
}

absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyType type) {
  const bool ec = type == KeyType::kEcdsaP256 || type == KeyType::kEcdsaP384;
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(ec ? EVP_PKEY_EC : EVP_PKEY_RSA, nullptr));
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1) {
    return absl::InternalError(absl::StrCat("key generation unavailable: ", DrainErrors()));
  }
  int ok = 0;
  switch (type) {
    case KeyType::kEcdsaP256:
      ok = EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1);
      break;
    case KeyType::kEcdsaP384:
      ok = EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_secp384r1);
      break;
    case KeyType::kRsa2048:
      ok = EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048);
      break;
    case KeyType::kRsa3072:
      ok = EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 3072);
      break;
  }
  EVP_PKEY* raw = nullptr;
  if (ok != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1 || raw == nullptr) {
    return absl::InternalError(absl::StrCat("key generation failed: ", DrainErrors()));
  }
  return EvpPkeyPtr(raw);
}

// SHA-384 for P-384 keys keeps the hash as strong as the curve; SHA-256 otherwise. Takes the
// key's description, which callers already have: describing a key object from scratch means
// re-encoding it, which OpenSSL 3.0 makes expensive.
const EVP_MD* DigestFor(std::string_view key_description) {
  return key_description == "ecdsa-p384" ? EVP_sha384() : EVP_sha256();
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  std::memset(&ctx, 0, sizeof(ctx));
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot add extension ", OBJ_nid2sn(nid), ": ", DrainErrors()));
  }
  return absl::OkStatus();
}

// subjectAltName with exactly one dNSName, built structurally (never from a config string, so
// no name can smuggle extra entries in).
absl::StatusOr<internal::GeneralNamesPtr> SingleDnsName(std::string_view name) {
  internal::GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  GENERAL_NAME* entry = GENERAL_NAME_new();
  ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
  if (names == nullptr || entry == nullptr || ia5 == nullptr ||
      ASN1_STRING_set(ia5, name.data(), static_cast<int>(name.size())) != 1) {
    GENERAL_NAME_free(entry);
    ASN1_IA5STRING_free(ia5);
    return absl::ResourceExhaustedError("out of memory");
  }
  GENERAL_NAME_set0_value(entry, GEN_DNS, ia5);
  if (sk_GENERAL_NAME_push(names.get(), entry) == 0) {
    GENERAL_NAME_free(entry);
    return absl::ResourceExhaustedError("out of memory");
  }
  return names;
}

// A name holding only CN=`cn`.
absl::StatusOr<internal::X509NamePtr> CommonNameOnly(std::string_view cn) {
  internal::X509NamePtr name(X509_NAME_new());
  if (name == nullptr ||
      X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("cannot encode common name: ", DrainErrors()));
  }
  return name;
}

bool IsWeakSignature(int nid) {
  switch (nid) {
    case NID_sha256WithRSAEncryption:
    case NID_sha384WithRSAEncryption:
    case NID_sha512WithRSAEncryption:
    case NID_ecdsa_with_SHA256:
    case NID_ecdsa_with_SHA384:
    case NID_ecdsa_with_SHA512:
      return false;
    default:
      return true;
  }
}

std::string RfcUtc(absl::Time t) { return model::json_internal::FormatRfc3339(t); }

absl::Status CheckLifetime(absl::Duration lifetime) {
  if (lifetime <= absl::ZeroDuration() || lifetime > kMaxLifetime) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate lifetime must be positive and at most ",
                     absl::FormatDuration(kMaxLifetime), "; got ", absl::FormatDuration(lifetime)));
  }
  return absl::OkStatus();
}

// Fields every certificate of the array shares: v3, random serial, validity, names, key.
absl::StatusOr<X509Ptr> NewCertificate(X509_NAME* issuer, X509_NAME* subject, EVP_PKEY* subject_key,
                                       absl::Time not_before, absl::Time not_after) {
  X509Ptr cert(X509_new());
  if (cert == nullptr) return absl::ResourceExhaustedError("out of memory");
  absl::StatusOr<internal::Asn1IntegerPtr> serial = internal::RandomSerial();
  if (!serial.ok()) return serial.status();
  if (X509_set_version(cert.get(), 2) != 1 ||  // 2 = X.509 v3
      X509_set_serialNumber(cert.get(), serial->get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer) != 1 ||
      X509_set_subject_name(cert.get(), subject) != 1 ||
      !internal::SetAsn1Time(X509_getm_notBefore(cert.get()), not_before) ||
      !internal::SetAsn1Time(X509_getm_notAfter(cert.get()), not_after) ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return absl::InternalError(absl::StrCat("cannot build certificate: ", DrainErrors()));
  }
  return cert;
}

absl::Status Sign(X509* cert, EVP_PKEY* key, const EVP_MD* digest) {
  if (X509_sign(cert, key, digest) <= 0) {
    return absl::InternalError(absl::StrCat("cannot sign certificate: ", DrainErrors()));
  }
  return absl::OkStatus();
}

// ---- the peer certificate, encoded directly --------------------------------------------------
//
// A peer certificate has a fixed profile, so its TBSCertificate is written as DER here rather
// than assembled through X509 setters and extension config strings, which on OpenSSL 3.0
// re-encode and re-decode the subject key through the provider machinery. Only structures
// this module builds are written; the CSR (untrusted input) is parsed by the library's ASN.1
// template engine (csr.h), and its SubjectPublicKeyInfo is re-encoded by the library from its
// parsed form.

// id-ce OIDs (RFC 5280 §4.2.1), as DER OBJECT IDENTIFIER TLVs.
constexpr std::string_view kOidSubjectKeyId("\x06\x03\x55\x1d\x0e", 5);
constexpr std::string_view kOidSubjectAltName("\x06\x03\x55\x1d\x11", 5);
// [0] EXPLICIT Version v3(2).
constexpr std::string_view kVersion3("\xa0\x03\x02\x01\x02", 5);

constexpr unsigned char kTagInteger = 0x02;
constexpr unsigned char kTagBitString = 0x03;
constexpr unsigned char kTagOctetString = 0x04;
constexpr unsigned char kTagSequence = 0x30;
constexpr unsigned char kTagExtensions = 0xa3;  // [3] EXPLICIT, constructed
constexpr unsigned char kTagDnsName = 0x82;     // GeneralName dNSName [2] IMPLICIT IA5String


// An extension as the library would encode it from a config string (`issuer` for the AKI).
absl::StatusOr<std::string> ConfExtensionDer(X509* issuer, X509* subject, int nid,
                                             const char* value) {
  X509V3_CTX ctx;
  std::memset(&ctx, 0, sizeof(ctx));
  X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  std::string der =
      ext == nullptr ? std::string() : internal::ToDer(ext.get(), i2d_X509_EXTENSION);
  if (der.empty()) {
    return absl::InternalError(
        absl::StrCat("cannot add extension ", OBJ_nid2sn(nid), ": ", DrainErrors()));
  }
  return der;
}

// The AlgorithmIdentifier X509_sign writes for `key` and `digest`: ecdsa-with-SHAxxx without
// parameters, sha256WithRSAEncryption with NULL parameters (RFC 5758 §3.2, RFC 4055 §5).
absl::StatusOr<std::string> SignatureAlgorithmDer(EVP_PKEY* key, const EVP_MD* digest) {
  const int key_id = EVP_PKEY_id(key);
  int sig_nid = NID_undef;
  if ((key_id != EVP_PKEY_EC && key_id != EVP_PKEY_RSA) ||
      OBJ_find_sigid_by_algs(&sig_nid, EVP_MD_type(digest), key_id) != 1) {
    DrainErrors();
    return absl::InternalError("no signature algorithm for the CA key");
  }
  std::unique_ptr<X509_ALGOR, internal::Deleter<X509_ALGOR, X509_ALGOR_free>> algor(
      X509_ALGOR_new());
  if (algor == nullptr ||
      X509_ALGOR_set0(algor.get(), OBJ_nid2obj(sig_nid),
                      key_id == EVP_PKEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("cannot encode signature algorithm: ", DrainErrors()));
  }
  std::string der = internal::ToDer(algor.get(), i2d_X509_ALGOR);
  if (der.empty()) return absl::InternalError("cannot encode signature algorithm");
  return der;
}

// An ASN1_TIME (UTCTime through 2049, GeneralizedTime after, as RFC 5280 §4.1.2.5 asks).
std::string TimeDer(absl::Time t) {
  const time_t seconds = absl::ToTimeT(t);
  // 1950..2049: the UTCTime "YYMMDDHHMMSSZ" ASN1_TIME_set makes, written directly.
  const absl::CivilSecond c = absl::ToCivilSecond(absl::FromTimeT(seconds), absl::UTCTimeZone());
  if (c.year() >= 1950 && c.year() <= 2049) {
    const int fields[] = {static_cast<int>(c.year() % 100), c.month(), c.day(), c.hour(),
                          c.minute(), c.second()};
    std::string out = {static_cast<char>(V_ASN1_UTCTIME), 13};
    for (const int f : fields) {
      out.push_back(static_cast<char>('0' + f / 10));
      out.push_back(static_cast<char>('0' + f % 10));
    }
    out.push_back('Z');
    return out;
  }
  internal::Asn1TimePtr time(ASN1_TIME_set(nullptr, seconds));
  return time == nullptr ? std::string() : internal::ToDer(time.get(), i2d_ASN1_TIME);
}

// subjectKeyIdentifier: the SHA-1 of the subjectPublicKey BIT STRING's value (RFC 5280
// §4.2.1.2 method 1, what the library's "hash" computes).
absl::StatusOr<std::string> SubjectKeyIdDer(const internal::ParsedCsr& csr) {
  const unsigned char* key = nullptr;
  int key_len = 0;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (!csr.KeyBits(&key, &key_len) || key == nullptr ||
      EVP_Digest(key, static_cast<std::size_t>(key_len), md, &md_len,
                 internal::PrefetchedDigest(EVP_sha1()), nullptr) != 1) {
    return absl::InternalError(absl::StrCat("cannot add subjectKeyIdentifier: ", DrainErrors()));
  }
  const std::string_view id(reinterpret_cast<const char*>(md), md_len);
  return internal::Tlv(
      kTagSequence,
      absl::StrCat(Av(kOidSubjectKeyId),
                   internal::Tlv(kTagOctetString, internal::Tlv(kTagOctetString, id))));
}

// The DER of the Name CommonNameOnly(`cn`) encodes, for a normalized peer name (ASCII host
// name) of at most 64 characters: SEQUENCE { SET { SEQUENCE { id-at-commonName, UTF8String } } }.
// Other names (longer than ub-common-name: refused there with the library's message) go
// through CommonNameOnly.
absl::StatusOr<std::string> PeerSubjectDer(std::string_view cn) {
  if (!cn.empty() && cn.size() <= 64 &&
      std::all_of(cn.begin(), cn.end(), [](char c) { return c > 0 && c < 0x7F; })) {
    constexpr std::string_view kOidCommonName("\x06\x03\x55\x04\x03", 5);
    constexpr unsigned char kTagUtf8String = 0x0c;
    constexpr unsigned char kTagSet = 0x31;
    std::string attribute(kOidCommonName);
    internal::AppendTlv(attribute, kTagUtf8String, cn);
    return internal::Tlv(kTagSequence,
                         internal::Tlv(kTagSet, internal::Tlv(kTagSequence, attribute)));
  }
  absl::StatusOr<internal::X509NamePtr> subject = CommonNameOnly(cn);
  if (!subject.ok()) return subject.status();
  return internal::ToDer(subject->get(), i2d_X509_NAME);
}

// subjectAltName holding exactly one dNSName (`name` is a normalized host name: ASCII only).
std::string SubjectAltNameDer(std::string_view name) {
  return internal::Tlv(
      kTagSequence,
      absl::StrCat(Av(kOidSubjectAltName),
                   internal::Tlv(kTagOctetString,
                                 internal::Tlv(kTagSequence, internal::Tlv(kTagDnsName, name)))));
}

}  // namespace

// ---- key types ---------------------------------------------------------------------------------

std::string_view ToString(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return "ecdsa-p256";
    case KeyType::kEcdsaP384:
      return "ecdsa-p384";
    case KeyType::kRsa2048:
      return "rsa-2048";
    case KeyType::kRsa3072:
      return "rsa-3072";
  }
  return "unknown";
}

std::string AllowedKeyTypes() { return "ecdsa-p256 (default), ecdsa-p384, rsa-2048, rsa-3072"; }

absl::StatusOr<KeyType> ParseKeyType(std::string_view name) {
  std::string n = absl::AsciiStrToLower(absl::StripAsciiWhitespace(Av(name)));
  n.erase(std::remove(n.begin(), n.end(), '_'), n.end());
  n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
  if (n == "ecdsap256" || n == "p256" || n == "ecp256" || n == "prime256v1" || n == "secp256r1" ||
      n == "ecdsa") {
    return KeyType::kEcdsaP256;
  }
  if (n == "ecdsap384" || n == "p384" || n == "ecp384" || n == "secp384r1") {
    return KeyType::kEcdsaP384;
  }
  if (n == "rsa2048" || n == "rsa") return KeyType::kRsa2048;
  if (n == "rsa3072") return KeyType::kRsa3072;
  return absl::InvalidArgumentError(absl::StrCat(
      "key type '", Av(name), "' is not allowed (RSA below 2048 bits and curves other ",
      "than P-256/P-384 are refused); allowed: ", AllowedKeyTypes()));
}

absl::StatusOr<SecretString> GeneratePrivateKey(KeyType type) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(type);
  if (!key.ok()) return key.status();
  return internal::PrivateKeyToPem(key->get());
}

// ---- names -------------------------------------------------------------------------------------

absl::StatusOr<std::string> NormalizePeerName(std::string_view name) {
  return model::NormalizePeerName(name, "peer DNS name");
}

// ---- certificates ------------------------------------------------------------------------------

nlohmann::json CertificateInfo::ToJson() const {
  return nlohmann::json{
      {"subject", subject},
      {"issuer", issuer},
      {"serial", serial_hex},
      {"not_before", RfcUtc(not_before)},
      {"not_after", RfcUtc(not_after)},
      {"fingerprint_sha256", fingerprint_sha256},
      {"is_ca", is_ca},
      {"dns_names", dns_names},
      {"key", key},
  };
}

namespace internal {

absl::StatusOr<CertificateInfo> Describe(X509* cert) {
  CertificateInfo info;
  info.subject = NameToString(X509_get_subject_name(cert));
  info.issuer = NameToString(X509_get_issuer_name(cert));
  info.serial_hex = SerialToHex(X509_get0_serialNumber(cert));
  absl::StatusOr<absl::Time> not_before = ToAbslTime(X509_get0_notBefore(cert));
  if (!not_before.ok()) return not_before.status();
  absl::StatusOr<absl::Time> not_after = ToAbslTime(X509_get0_notAfter(cert));
  if (!not_after.ok()) return not_after.status();
  info.not_before = *not_before;
  info.not_after = *not_after;
  info.fingerprint_sha256 = Sha256Fingerprint(cert);
  info.is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
  internal::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names != nullptr) {
    for (int i = 0; i < static_cast<int>(sk_GENERAL_NAME_num(names.get())); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
      if (gn->type == GEN_DNS) info.dns_names.push_back(internal::Utf8(gn->d.dNSName));
    }
  }
  DrainErrors();
  info.key = AssessPublicKey(X509_get_X509_PUBKEY(cert)).description;
  return info;
}

}  // namespace internal

absl::StatusOr<CertificateInfo> InspectCertificate(std::string_view pem_or_der) {
  absl::StatusOr<X509Ptr> cert = internal::ParseCertificate(pem_or_der);
  if (!cert.ok()) return cert.status();
  return internal::Describe(cert->get());
}

absl::StatusOr<std::string> Fingerprint(std::string_view pem_or_der) {
  absl::StatusOr<X509Ptr> cert = internal::ParseCertificate(pem_or_der);
  if (!cert.ok()) return cert.status();
  return internal::Sha256Fingerprint(cert->get());
}

absl::StatusOr<std::string> NormalizeFingerprint(std::string_view text) {
  std::string_view value = Sv(absl::StripAsciiWhitespace(Av(text)));
  if (const std::size_t eq = value.find('='); eq != std::string_view::npos) {
    value = value.substr(eq + 1);  // "SHA256 Fingerprint=AB:CD..."
  }
  std::string hex;
  for (char c : value) {
    if (c == ':' || std::isspace(static_cast<unsigned char>(c))) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("fingerprint must be hexadecimal (AB:CD:... or abcd...)");
    }
    hex += absl::ascii_toupper(static_cast<unsigned char>(c));
  }
  if (hex.size() != 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a SHA-256 fingerprint has 32 bytes (64 hex digits); got ", hex.size(), " digits"));
  }
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (i != 0) out += ':';
    out.append(hex, i, 2);
  }
  return out;
}

absl::Time RenewalTime(absl::Time not_before, absl::Time not_after) {
  return not_before + (not_after - not_before) * 2 / 3;
}

bool RenewalDue(absl::Time not_before, absl::Time not_after, absl::Time now) {
  return now >= RenewalTime(not_before, not_after);
}

// ---- member side -------------------------------------------------------------------------------

absl::StatusOr<std::string> CreateCsr(std::string_view private_key_pem,
                                      std::string_view peer_name) {
  absl::StatusOr<std::string> name = NormalizePeerName(peer_name);
  if (!name.ok()) return name.status();
  absl::StatusOr<EvpPkeyPtr> key = internal::ParsePrivateKey(private_key_pem);
  if (!key.ok()) return key.status();
  const internal::KeyAssessment assessment = internal::AssessPublicKey(key->get());
  if (!assessment.allowed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key type ", assessment.description, " is not allowed; allowed: ", AllowedKeyTypes()));
  }
  X509ReqPtr req(X509_REQ_new());
  absl::StatusOr<internal::X509NamePtr> subject = CommonNameOnly(*name);
  if (!subject.ok()) return subject.status();
  absl::StatusOr<internal::GeneralNamesPtr> san = SingleDnsName(*name);
  if (!san.ok()) return san.status();
  internal::ExtensionStackPtr extensions(sk_X509_EXTENSION_new_null());
  if (req == nullptr || extensions == nullptr) return absl::ResourceExhaustedError("out of memory");
  X509_EXTENSION* san_ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, san->get());
  if (san_ext == nullptr || sk_X509_EXTENSION_push(extensions.get(), san_ext) == 0) {
    X509_EXTENSION_free(san_ext);
    return absl::InternalError(absl::StrCat("cannot encode subjectAltName: ", DrainErrors()));
  }
  if (X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_subject_name(req.get(), subject->get()) != 1 ||
      X509_REQ_add_extensions(req.get(), extensions.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key->get()) != 1 ||
      X509_REQ_sign(req.get(), key->get(), DigestFor(assessment.description)) <= 0) {
    return absl::InternalError(absl::StrCat("cannot build CSR: ", DrainErrors()));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return absl::InternalError(absl::StrCat("cannot encode CSR: ", DrainErrors()));
  }
  return internal::BioContents(bio.get());
}

// ---- CA side -----------------------------------------------------------------------------------

std::string_view ToString(CsrRejection rejection) {
  switch (rejection) {
    case CsrRejection::kMalformed:
      return "malformed";
    case CsrRejection::kBadSignature:
      return "bad_signature";
    case CsrRejection::kNotAMember:
      return "not_a_member";
    case CsrRejection::kNameMismatch:
      return "name_mismatch";
    case CsrRejection::kWeakKey:
      return "weak_key";
    case CsrRejection::kBadSubjectAltName:
      return "bad_subject_alt_name";
  }
  return "unknown";
}

std::optional<CsrRejection> GetCsrRejection(const absl::Status& status) {
  auto payload = status.GetPayload(kCsrRejectionUrl);  // absl::optional on Debian
  if (!payload.has_value()) return std::nullopt;
  const std::string code(*payload);
  for (CsrRejection r : kAllCsrRejections) {
    if (ToString(r) == code) return r;
  }
  return std::nullopt;
}

void CertificateAuthority::X509Free::operator()(X509* p) const { X509_free(p); }
void CertificateAuthority::PkeyFree::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }

CertificateAuthority::CertificateAuthority(CertificateAuthority&&) noexcept = default;
CertificateAuthority& CertificateAuthority::operator=(CertificateAuthority&&) noexcept = default;
CertificateAuthority::~CertificateAuthority() = default;

absl::StatusOr<CertificateAuthority> CertificateAuthority::Create(const CaOptions& options,
                                                                  absl::Time now) {
  if (absl::Status s = CheckLifetime(options.lifetime); !s.ok()) return s;
  if (options.common_name.empty() || options.common_name.size() > 64) {
    return absl::InvalidArgumentError("CA common name must have 1 to 64 characters");
  }
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(options.key_type);
  if (!key.ok()) return key.status();
  absl::StatusOr<internal::X509NamePtr> name = CommonNameOnly(options.common_name);
  if (!name.ok()) return name.status();
  absl::StatusOr<X509Ptr> cert =
      NewCertificate(name->get(), name->get(), key->get(), now - kBackdate, now + options.lifetime);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  // The SKI must exist before "keyid:always" can copy it into the AKI of a self-signed cert.
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    if (absl::Status s = AddExtension(c, c, nid, value); !s.ok()) return s;
  }
  const EVP_MD* digest = DigestFor(ToString(options.key_type));
  if (absl::Status s = Sign(c, key->get(), digest); !s.ok()) return s;

  return FromParts(cert->release(), key->release(), digest);
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Load(std::string_view certificate_pem,
                                                                std::string_view private_key_pem) {
  absl::StatusOr<X509Ptr> cert = internal::ParseCertificate(certificate_pem);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<EvpPkeyPtr> key = internal::ParsePrivateKey(private_key_pem);
  if (!key.ok()) return key.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    DrainErrors();
    return absl::InvalidArgumentError("the private key does not belong to the CA certificate");
  }
  const uint32_t flags = X509_get_extension_flags(cert->get());
  if ((flags & EXFLAG_CA) == 0 || (X509_get_key_usage(cert->get()) & KU_KEY_CERT_SIGN) == 0) {
    return absl::InvalidArgumentError(
        "not a CA certificate (needs basicConstraints CA:TRUE and keyUsage keyCertSign)");
  }
  const internal::KeyAssessment assessment = internal::AssessPublicKey(key->get());
  if (!assessment.allowed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CA key type ", assessment.description, " is not allowed; allowed: ", AllowedKeyTypes()));
  }
  return FromParts(cert->release(), key->release(), DigestFor(assessment.description));
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::FromParts(X509* cert, EVP_PKEY* key,
                                                                     const EVP_MD* digest) {
  CertificateAuthority ca;
  ca.cert_.reset(cert);
  ca.key_.reset(key);
  ca.digest_ = digest;
  ca.certificate_pem_ = internal::CertificateToPem(cert);
  absl::StatusOr<CertificateInfo> info = internal::Describe(cert);
  if (!info.ok()) return info.status();
  ca.info_ = *std::move(info);
  ca.PrepareIssuance();
  return ca;
}

struct CertificateAuthority::IssuanceProfile {
  std::string issuer_name_der;          // the CA's subject Name
  std::string signature_algorithm_der;  // AlgorithmIdentifier for the CA key and digest
  // basicConstraints critical CA:FALSE, keyUsage critical digitalSignature, extKeyUsage
  // serverAuth + clientAuth: the same for every peer certificate.
  std::string fixed_extensions_der;
  std::string authority_key_id_der;  // keyid:always, from the CA's subject key identifier
  // EVP_DigestSignInit done once for the CA key and digest (null if it failed: each
  // certificate then initialises its own context and reports the failure). Never used
  // directly: each certificate signs with its own copy (EVP_MD_CTX_copy_ex, which only reads
  // it), so concurrent SignPeerCsr calls share nothing mutable.
  std::unique_ptr<EVP_MD_CTX, internal::Deleter<EVP_MD_CTX, EVP_MD_CTX_free>> sign_template;
  // Verification keys kept between the requests this CA parses.
  mutable internal::VerificationKeyPool verification_keys;  // thread-safe
  absl::Status status;  // why this CA cannot issue, if it cannot
};

void CertificateAuthority::PrepareIssuance() {
  auto profile = std::make_shared<IssuanceProfile>();
  auto fail = [&](absl::Status s) {
    profile->status = std::move(s);
    profile_ = std::move(profile);
  };
  profile->issuer_name_der = internal::ToDer(X509_get_subject_name(cert_.get()), i2d_X509_NAME);
  if (profile->issuer_name_der.empty()) {
    return fail(absl::InternalError(absl::StrCat("cannot encode issuer name: ", DrainErrors())));
  }
  absl::StatusOr<std::string> algorithm = SignatureAlgorithmDer(key_.get(), digest_);
  if (!algorithm.ok()) return fail(algorithm.status());
  profile->signature_algorithm_der = *std::move(algorithm);
  // The extensions come from the library's own config parser, once: the same bytes as before
  // the profile was cached. The AKI needs only the issuer; a blank certificate stands in for
  // the subject.
  X509Ptr blank(X509_new());
  if (blank == nullptr) return fail(absl::ResourceExhaustedError("out of memory"));
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_key_usage, "critical,digitalSignature"},
                            std::pair{NID_ext_key_usage, "serverAuth,clientAuth"},
                            std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    absl::StatusOr<std::string> der = ConfExtensionDer(cert_.get(), blank.get(), nid, value);
    if (!der.ok()) return fail(der.status());
    if (nid == NID_authority_key_identifier) {
      profile->authority_key_id_der = *std::move(der);
    } else {
      profile->fixed_extensions_der += *der;
    }
  }
  profile->sign_template.reset(EVP_MD_CTX_new());
  if (profile->sign_template != nullptr &&
      EVP_DigestSignInit(profile->sign_template.get(), nullptr,
                         internal::PrefetchedDigest(digest_), nullptr, key_.get()) != 1) {
    DrainErrors();
    profile->sign_template.reset();
  }
  profile_ = std::move(profile);
}

absl::StatusOr<SecretString> CertificateAuthority::PrivateKeyPem() const {
  return internal::PrivateKeyToPem(key_.get());
}

absl::StatusOr<std::string> CertificateAuthority::SignPeerCsr(std::string_view csr_pem,
                                                              const PeerCertificateOptions& options,
                                                              absl::Time now) const {
  return Issue(csr_pem, options, now, nullptr);
}

absl::StatusOr<CertificateAuthority::IssuedCertificate> CertificateAuthority::IssuePeerCertificate(
    std::string_view csr_pem, const PeerCertificateOptions& options, absl::Time now) const {
  IssuedCertificate issued;
  absl::StatusOr<std::string> pem = Issue(csr_pem, options, now, &issued.info);
  if (!pem.ok()) return pem.status();
  issued.pem = *std::move(pem);
  return issued;
}

absl::StatusOr<std::string> CertificateAuthority::Issue(std::string_view csr_pem,
                                                        const PeerCertificateOptions& options,
                                                        absl::Time now,
                                                        CertificateInfo* description) const {
  if (absl::Status s = CheckLifetime(options.lifetime); !s.ok()) return s;
  if (now < info_.not_before || now >= info_.not_after) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the CA certificate is not valid at ", RfcUtc(now), " (valid ", RfcUtc(info_.not_before),
        " to ", RfcUtc(info_.not_after), "); rotate the CA"));
  }
  if (csr_pem.empty()) return Refuse(CsrRejection::kMalformed, "empty CSR input");
  if (csr_pem.size() > internal::kMaxInputBytes) {
    return Refuse(CsrRejection::kMalformed, "CSR input too large");
  }
  absl::StatusOr<internal::ParsedCsr> parsed = internal::ParsedCsr::Parse(
      csr_pem, internal::ParsedCsr::Parser::kFast,
      profile_ != nullptr ? &profile_->verification_keys : nullptr);
  if (!parsed.ok()) {
    if (parsed.status().code() != absl::StatusCode::kInvalidArgument) return parsed.status();
    return Refuse(CsrRejection::kMalformed, absl::StrCat("not a PEM certificate signing request: ",
                                                         parsed.status().message()));
  }
  internal::ParsedCsr& csr = *parsed;

  // BoringSSL cannot even decode keys on curves it does not implement: that is a weak key too.
  if (csr.public_key() == nullptr) {
    return Refuse(CsrRejection::kWeakKey,
                  "the CSR's public key cannot be used (unsupported algorithm or curve); "
                  "allowed: " +
                      AllowedKeyTypes());
  }

  // Names: one CN, and at most one SAN that is a dNSName equal to it.
  const std::vector<std::string> cns = csr.CommonNames();
  if (cns.size() != 1) {
    return Refuse(CsrRejection::kNameMismatch,
                  absl::StrCat("the CSR subject must hold exactly one CN; it holds ", cns.size()));
  }
  std::vector<std::string> dns_names;
  internal::ExtensionStackPtr extensions = csr.Extensions();
  DrainErrors();
  int san_extensions = 0;
  for (int i = 0;
       extensions != nullptr && i < static_cast<int>(sk_X509_EXTENSION_num(extensions.get()));
       ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(extensions.get(), i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    ++san_extensions;
    internal::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
    if (names == nullptr) {
      DrainErrors();
      return Refuse(CsrRejection::kMalformed, "unreadable subjectAltName in the CSR");
    }
    for (int j = 0; j < static_cast<int>(sk_GENERAL_NAME_num(names.get())); ++j) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), j);
      if (gn->type != GEN_DNS) {
        return Refuse(CsrRejection::kBadSubjectAltName,
                      "the CSR asks for a subjectAltName that is not a DNS name "
                      "(IP, e-mail, URI and other names are not issued)");
      }
      dns_names.push_back(internal::Utf8(gn->d.dNSName));
    }
  }
  if (san_extensions > 1 || dns_names.size() > 1) {
    return Refuse(CsrRejection::kBadSubjectAltName,
                  absl::StrCat("the CSR asks for ", dns_names.size(),
                               " subjectAltNames; a peer certificate carries exactly its own "
                               "peer DNS name"));
  }
  for (const std::string& n : dns_names) {
    if (n.find('*') != std::string::npos) {
      return Refuse(CsrRejection::kBadSubjectAltName, "wildcard names are never issued");
    }
  }
  if (cns[0].find('*') != std::string::npos) {
    return Refuse(CsrRejection::kBadSubjectAltName, "wildcard names are never issued");
  }
  absl::StatusOr<std::string> name = NormalizePeerName(cns[0]);
  if (!name.ok()) return Refuse(CsrRejection::kNameMismatch, name.status().message());
  if (!dns_names.empty()) {
    absl::StatusOr<std::string> san_name = NormalizePeerName(dns_names[0]);
    if (!san_name.ok() || *san_name != *name) {
      return Refuse(CsrRejection::kNameMismatch,
                    absl::StrCat("the CSR's subjectAltName '", absl::CHexEscape(dns_names[0]),
                                 "' differs from its CN '", *name, "'"));
    }
  }
  bool member = false;
  for (const std::string& m : options.member_names) {
    absl::StatusOr<std::string> normalized = NormalizePeerName(m);
    if (normalized.ok() && *normalized == *name) member = true;
  }
  if (!member) {
    return Refuse(CsrRejection::kNotAMember,
                  absl::StrCat("'", *name, "' is not a member of the array"));
  }
  if (!options.expected_name.empty()) {
    absl::StatusOr<std::string> expected = NormalizePeerName(options.expected_name);
    if (!expected.ok() || *expected != *name) {
      return Refuse(
          CsrRejection::kNameMismatch,
          absl::StrCat("the CSR asks for '", *name, "' but the member being enrolled is '",
                       options.expected_name, "'"));
    }
  }

  if (profile_ == nullptr) return absl::FailedPreconditionError("moved-from CA");

  // The subject key is copied as the CSR encodes it, never decoded and re-encoded: on OpenSSL
  // 3.0 that round trip through the provider encoders was most of the issuance cost.
  if (absl::Status s = csr.PrepareKeyInfo(); !s.ok()) return s;
  const internal::KeyAssessment assessment = csr.AssessKey();
  if (!assessment.allowed) {
    return Refuse(CsrRejection::kWeakKey,
                  absl::StrCat("key ", assessment.description,
                               " is not allowed; allowed: ", AllowedKeyTypes()));
  }
  // Proof of possession: the request is signed by the key it asks to certify.
  if (const int sig_nid = csr.signature_nid(); IsWeakSignature(sig_nid)) {
    return Refuse(CsrRejection::kBadSignature,
                  absl::StrCat("CSR signature algorithm ", OBJ_nid2sn(sig_nid),
                               " is not accepted (SHA-256 or stronger)"));
  }
  if (csr.VerifySignature() != 1) {
    DrainErrors();
    return Refuse(CsrRejection::kBadSignature, "the CSR's signature does not verify");
  }
  if (!profile_->status.ok()) return profile_->status;

  // TBSCertificate (RFC 5280 §4.1), fields in order.
  unsigned char serial[internal::kSerialOctets];
  if (absl::Status s = internal::RandomSerialOctets(serial); !s.ok()) return s;
  // A peer certificate never outlives the CA that signed it.
  const absl::Time not_after = std::min(now + options.lifetime, info_.not_after);
  const std::string validity = absl::StrCat(TimeDer(now - kBackdate), TimeDer(not_after));
  absl::StatusOr<std::string> subject = PeerSubjectDer(*name);
  if (!subject.ok()) return subject.status();
  const std::string& subject_der = *subject;
  const std::string spki_der = csr.KeyInfoDer();
  absl::StatusOr<std::string> ski = SubjectKeyIdDer(csr);
  if (!ski.ok()) return ski.status();
  if (validity.empty() || subject_der.empty() || spki_der.empty()) {
    return absl::InternalError(absl::StrCat("cannot build certificate: ", DrainErrors()));
  }
  std::string cert_extensions = profile_->fixed_extensions_der;
  absl::StrAppend(&cert_extensions, *ski, profile_->authority_key_id_der,
                  SubjectAltNameDer(*name));

  std::string tbs_fields;
  tbs_fields.reserve(512);
  tbs_fields.append(kVersion3.data(), kVersion3.size());
  internal::AppendTlv(tbs_fields, kTagInteger,
                      std::string_view(reinterpret_cast<const char*>(serial), sizeof(serial)));
  absl::StrAppend(&tbs_fields, profile_->signature_algorithm_der, profile_->issuer_name_der);
  internal::AppendTlv(tbs_fields, kTagSequence, validity);
  absl::StrAppend(&tbs_fields, subject_der, spki_der);
  internal::AppendTlv(tbs_fields, kTagExtensions, internal::Tlv(kTagSequence, cert_extensions));
  const std::string tbs = internal::Tlv(kTagSequence, tbs_fields);

  // signatureValue: the CA's signature over the TBSCertificate's DER.
  std::unique_ptr<EVP_MD_CTX, internal::Deleter<EVP_MD_CTX, EVP_MD_CTX_free>> md_ctx(
      EVP_MD_CTX_new());
  std::string signature(1, '\0');  // BIT STRING: no unused bits, then the signature
  std::size_t sig_len = static_cast<std::size_t>(EVP_PKEY_size(key_.get()));
  signature.resize(1 + sig_len);
  const EVP_MD_CTX* sign_template = profile_->sign_template.get();
  if (md_ctx == nullptr ||
      (sign_template != nullptr
           ? EVP_MD_CTX_copy_ex(md_ctx.get(), sign_template) != 1
           : EVP_DigestSignInit(md_ctx.get(), nullptr, digest_, nullptr, key_.get()) != 1) ||
      EVP_DigestSign(md_ctx.get(), reinterpret_cast<unsigned char*>(signature.data() + 1),
                     &sig_len, reinterpret_cast<const unsigned char*>(tbs.data()),
                     tbs.size()) != 1) {
    return absl::InternalError(absl::StrCat("cannot sign certificate: ", DrainErrors()));
  }
  signature.resize(1 + sig_len);

  std::string certificate = tbs;
  absl::StrAppend(&certificate, profile_->signature_algorithm_der);
  internal::AppendTlv(certificate, kTagBitString, signature);
  const std::string der = internal::Tlv(kTagSequence, certificate);

  if (description != nullptr) {
    // What InspectCertificate would read back: times at the whole seconds the DER holds.
    description->subject = absl::StrCat("CN=", *name);
    description->issuer = info_.subject;
    description->serial_hex = internal::UpperHex(serial, sizeof(serial), "");
    description->not_before = absl::FromTimeT(absl::ToTimeT(now - kBackdate));
    description->not_after = absl::FromTimeT(absl::ToTimeT(not_after));
    description->fingerprint_sha256 = internal::Sha256FingerprintOfDer(der);
    description->is_ca = false;
    description->dns_names = {*name};
    description->key = assessment.description;
  }
  return internal::DerToPem(der, "CERTIFICATE");
}

}  // namespace arraykit::pki
