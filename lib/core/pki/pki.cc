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
#include "core/model/json_reader.h"
#include "core/pki/ossl.h"
#include "core/status.h"

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

constexpr CsrRejection kAllCsrRejections[] = {
    CsrRejection::kMalformed,    CsrRejection::kBadSignature, CsrRejection::kNotAMember,
    CsrRejection::kNameMismatch, CsrRejection::kWeakKey,      CsrRejection::kBadSubjectAltName,
    CsrRejection::kNameNotFqdn,
};

// Every refusal of a CSR has one shape: PERMISSION_DENIED with the rejection as its reason.
absl::Status Refuse(CsrRejection rejection, absl::string_view message) {
  return MakeError(absl::StatusCode::kPermissionDenied, Av(ToString(rejection)), message);
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

// What a certificate of the array holds; the profile decides its extensions.
struct ToBeSigned {
  enum class Profile {
    kCa,    // CA:TRUE pathlen:0, keyCertSign + cRLSign
    kPeer,  // CA:FALSE, digitalSignature, serverAuth + clientAuth, one SAN dNSName
  };
  Profile profile = Profile::kPeer;
  X509_NAME* subject = nullptr;
  EVP_PKEY* subject_key = nullptr;
  // The same key as the request encoded it, when there is one: copied as is.
  X509_PUBKEY* subject_key_info = nullptr;
  absl::Time not_before;
  absl::Time not_after;
  std::string dns_name;  // kPeer only
};

// Copies an encoded SubjectPublicKeyInfo into `cert` field by field (algorithm, parameters,
// key bits) through the library's setters.
bool CopyKeyInfo(X509* cert, X509_PUBKEY* from) {
  X509_ALGOR* algorithm = nullptr;
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  if (X509_PUBKEY_get0_param(nullptr, &bits, &bits_len, &algorithm, from) != 1 ||
      algorithm == nullptr || bits == nullptr || bits_len <= 0) {
    return false;
  }
  const ASN1_OBJECT* oid = nullptr;
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(&oid, &param_type, &param, algorithm);
  // The policy allows EC keys (a named curve: an OID parameter) and RSA keys (NULL or absent).
  void* param_copy = nullptr;
  if (param_type == V_ASN1_OBJECT) {
    param_copy = OBJ_dup(static_cast<const ASN1_OBJECT*>(param));
    if (param_copy == nullptr) return false;
  } else if (param_type != V_ASN1_NULL && param_type != V_ASN1_UNDEF) {
    return false;
  }
  ASN1_OBJECT* oid_copy = OBJ_dup(oid);
  auto* bits_copy = static_cast<unsigned char*>(OPENSSL_malloc(static_cast<std::size_t>(bits_len)));
  if (oid_copy == nullptr || bits_copy == nullptr) {
    ASN1_OBJECT_free(oid_copy);
    ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(param_copy));
    OPENSSL_free(bits_copy);
    return false;
  }
  std::memcpy(bits_copy, bits, static_cast<std::size_t>(bits_len));
  if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), oid_copy, param_type, param_copy,
                             bits_copy, bits_len) != 1) {
    ASN1_OBJECT_free(oid_copy);
    ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(param_copy));
    OPENSSL_free(bits_copy);
    return false;
  }
  return true;
}

// The subject key of `cert`: the request's encoding copied when there is one (OpenSSL 3 would
// otherwise re-encode the key through its provider encoders, a large share of an issuance),
// else the key encoded by the library.
bool SetSubjectKey(X509* cert, const ToBeSigned& tbs) {
  if (tbs.subject_key_info != nullptr) return CopyKeyInfo(cert, tbs.subject_key_info);
  return X509_set_pubkey(cert, tbs.subject_key) == 1;
}

// The one path every certificate of the array is made by: the fields, the profile's
// extensions, then the issuer's signature. `issuer` null means self-signed (the CA).
absl::StatusOr<X509Ptr> SignCertificate(const ToBeSigned& tbs, X509* issuer, EVP_PKEY* issuer_key,
                                        const EVP_MD* digest) {
  X509Ptr cert(X509_new());
  if (cert == nullptr) return absl::ResourceExhaustedError("out of memory");
  absl::StatusOr<internal::Asn1IntegerPtr> serial = internal::RandomSerial();
  if (!serial.ok()) return serial.status();
  X509* c = cert.get();
  X509* signer = issuer != nullptr ? issuer : c;
  if (X509_set_version(c, 2) != 1 ||  // 2 = X.509 v3
      X509_set_serialNumber(c, serial->get()) != 1 ||
      X509_set_issuer_name(c, issuer != nullptr ? X509_get_subject_name(issuer) : tbs.subject) !=
          1 ||
      X509_set_subject_name(c, tbs.subject) != 1 ||
      !internal::SetAsn1Time(X509_getm_notBefore(c), tbs.not_before) ||
      !internal::SetAsn1Time(X509_getm_notAfter(c), tbs.not_after) ||
      !SetSubjectKey(c, tbs)) {
    return absl::InternalError(absl::StrCat("cannot build certificate: ", DrainErrors()));
  }
  const bool ca = tbs.profile == ToBeSigned::Profile::kCa;
  // The SKI must exist before "keyid:always" can copy it into the AKI of a self-signed cert.
  const std::pair<int, const char*> extensions[] = {
      {NID_basic_constraints, ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE"},
      {NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"},
      {NID_ext_key_usage, ca ? nullptr : "serverAuth,clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  for (const auto& [nid, value] : extensions) {
    if (value == nullptr) continue;
    if (absl::Status s = AddExtension(c, signer, nid, value); !s.ok()) return s;
  }
  if (!ca) {
    // subjectAltName holding exactly the peer DNS name, built structurally (never from a
    // config string, so no name can smuggle extra entries in).
    absl::StatusOr<internal::GeneralNamesPtr> san = SingleDnsName(tbs.dns_name);
    if (!san.ok()) return san.status();
    if (X509_add1_ext_i2d(c, NID_subject_alt_name, san->get(), 0, X509V3_ADD_DEFAULT) != 1) {
      return absl::InternalError(absl::StrCat("cannot add subjectAltName: ", DrainErrors()));
    }
  }
  if (X509_sign(c, issuer_key, digest) <= 0) {
    return absl::InternalError(absl::StrCat("cannot sign certificate: ", DrainErrors()));
  }
  return cert;
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
      {"renewal_at", RfcUtc(RenewalTime(not_before, not_after))},
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

absl::StatusOr<std::string> CertificateAsPem(std::string_view pem_or_der) {
  absl::StatusOr<X509Ptr> cert = internal::ParseCertificate(pem_or_der);
  if (!cert.ok()) return cert.status();
  std::string pem = internal::CertificateToPem(cert->get());
  if (pem.empty()) return absl::InternalError("cannot encode the certificate as PEM");
  return pem;
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

namespace {

// A CSR for the normalized `name` signed with `key`.
absl::StatusOr<std::string> CsrForKey(EVP_PKEY* key, const std::string& name) {
  const internal::KeyAssessment assessment = internal::AssessPublicKey(key);
  if (!assessment.allowed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key type ", assessment.description, " is not allowed; allowed: ", AllowedKeyTypes()));
  }
  X509ReqPtr req(X509_REQ_new());
  absl::StatusOr<internal::X509NamePtr> subject = CommonNameOnly(name);
  if (!subject.ok()) return subject.status();
  absl::StatusOr<internal::GeneralNamesPtr> san = SingleDnsName(name);
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
      X509_REQ_set_pubkey(req.get(), key) != 1 ||
      X509_REQ_sign(req.get(), key, DigestFor(assessment.description)) <= 0) {
    return absl::InternalError(absl::StrCat("cannot build CSR: ", DrainErrors()));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return absl::InternalError(absl::StrCat("cannot encode CSR: ", DrainErrors()));
  }
  return internal::BioContents(bio.get());
}

}  // namespace

absl::StatusOr<std::string> CreateCsr(std::string_view private_key_pem,
                                      std::string_view peer_name) {
  absl::StatusOr<std::string> name = NormalizePeerName(peer_name);
  if (!name.ok()) return name.status();
  absl::StatusOr<EvpPkeyPtr> key = internal::ParsePrivateKey(private_key_pem);
  if (!key.ok()) return key.status();
  return CsrForKey(key->get(), *name);
}

absl::StatusOr<MemberRequest> CreateKeyAndCsr(KeyType type, std::string_view peer_name) {
  absl::StatusOr<std::string> name = NormalizePeerName(peer_name);
  if (!name.ok()) return name.status();
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(type);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> csr = CsrForKey(key->get(), *name);
  if (!csr.ok()) return csr.status();
  absl::StatusOr<SecretString> pem = internal::PrivateKeyToPem(key->get());
  if (!pem.ok()) return pem.status();
  return MemberRequest{*std::move(pem), *std::move(csr)};
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
    case CsrRejection::kNameNotFqdn:
      return "name_not_fqdn";
  }
  return "unknown";
}

std::optional<CsrRejection> GetCsrRejection(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kPermissionDenied) return std::nullopt;
  const std::string code = ReasonOf(status);
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
  const EVP_MD* digest = DigestFor(ToString(options.key_type));
  ToBeSigned tbs;
  tbs.profile = ToBeSigned::Profile::kCa;
  tbs.subject = name->get();
  tbs.subject_key = key->get();
  tbs.not_before = now - kBackdate;
  tbs.not_after = now + options.lifetime;
  absl::StatusOr<X509Ptr> cert = SignCertificate(tbs, nullptr, key->get(), digest);
  if (!cert.ok()) return cert.status();
  return FromParts(cert->release(), key->release(), digest);
}

absl::Status internal::CheckCaCertificate(X509* cert) {
  const uint32_t flags = X509_get_extension_flags(cert);
  // X509_get_key_usage reports "every usage" when the extension is absent: a CA must carry it.
  if ((flags & EXFLAG_CA) == 0 || (flags & EXFLAG_KUSAGE) == 0 ||
      (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) == 0) {
    return MakeError(absl::StatusCode::kInvalidArgument, "not_a_ca",
                     "not a CA certificate (needs basicConstraints CA:TRUE and keyUsage "
                     "keyCertSign)");
  }
  return absl::OkStatus();
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
  if (absl::Status s = internal::CheckCaCertificate(cert->get()); !s.ok()) return s;
  const internal::KeyAssessment assessment = internal::AssessPublicKey(key->get());
  if (!assessment.allowed) {
    return MakeError(absl::StatusCode::kInvalidArgument, "weak_key",
                     absl::StrCat("CA key type ", assessment.description,
                                  " is not allowed; allowed: ", AllowedKeyTypes()));
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
  return ca;
}

absl::StatusOr<SecretString> CertificateAuthority::PrivateKeyPem() const {
  return internal::PrivateKeyToPem(key_.get());
}

absl::StatusOr<std::string> CertificateAuthority::SignPeerCsr(std::string_view csr_pem,
                                                              const PeerCertificateOptions& options,
                                                              absl::Time now) const {
  absl::StatusOr<IssuedCertificate> issued = IssuePeerCertificate(csr_pem, options, now);
  if (!issued.ok()) return issued.status();
  return std::move(issued->pem);
}

namespace {

// A member's request that passed the CA's policy: its key and its normalized peer name.
struct CheckedRequest {
  X509ReqPtr request;
  EvpPkeyPtr key;
  std::string key_description;  // "ecdsa-p256", "rsa-2048", ...
  std::string name;
};

// The CA's policy for a CSR (DESIGN.md §6), on the library's parse of it: proof of possession
// first, then the key, then the names it asks for.
absl::StatusOr<CheckedRequest> CheckRequest(std::string_view csr_text,
                                            const PeerCertificateOptions& options) {
  absl::StatusOr<X509ReqPtr> parsed = internal::ParseCertificateRequest(csr_text);
  if (!parsed.ok()) {
    if (parsed.status().code() != absl::StatusCode::kInvalidArgument) return parsed.status();
    return Refuse(CsrRejection::kMalformed, parsed.status().message());
  }
  X509_REQ* req = parsed->get();

  // The key: judged from its AlgorithmIdentifier first, so a key on a curve the library
  // cannot decode is named weak; then decoded (an invalid point is malformed).
  CheckedRequest checked;
#if defined(OPENSSL_IS_BORINGSSL)
  // BoringSSL's X509_REQ does not expose the encoded key: a key it cannot decode (a curve it
  // does not implement, or an invalid point) is refused as unusable.
  checked.key.reset(X509_REQ_get_pubkey(req));
  DrainErrors();
  if (checked.key == nullptr) {
    return Refuse(CsrRejection::kWeakKey,
                  absl::StrCat("the CSR's public key cannot be used (unsupported algorithm or "
                               "curve, or an invalid key); allowed: ",
                               AllowedKeyTypes()));
  }
  const internal::KeyAssessment assessment = internal::AssessPublicKey(checked.key.get());
#else
  const internal::KeyAssessment assessment =
      internal::AssessPublicKey(X509_REQ_get_X509_PUBKEY(req));
#endif
  if (!assessment.decodable) {
    return Refuse(CsrRejection::kMalformed, "the CSR's public key cannot be decoded");
  }
  if (!assessment.allowed) {
    return Refuse(CsrRejection::kWeakKey,
                  absl::StrCat("key ", assessment.description,
                               " is not allowed; allowed: ", AllowedKeyTypes()));
  }
  if (checked.key == nullptr) {
    checked.key.reset(X509_REQ_get_pubkey(req));
    DrainErrors();
    if (checked.key == nullptr) {
      return Refuse(CsrRejection::kMalformed,
                    absl::StrCat("the CSR's ", assessment.description,
                                 " public key cannot be decoded (for an EC key: the point is "
                                 "not on the curve)"));
    }
  }

  // Proof of possession: the request is signed by the key it asks to certify.
  if (const int sig_nid = X509_REQ_get_signature_nid(req); IsWeakSignature(sig_nid)) {
    const char* sn = sig_nid == NID_undef ? nullptr : OBJ_nid2sn(sig_nid);
    return Refuse(CsrRejection::kBadSignature,
                  absl::StrCat("CSR signature algorithm ", sn != nullptr ? sn : "unknown",
                               " is not accepted (SHA-256 or stronger)"));
  }
  if (X509_REQ_verify(req, checked.key.get()) != 1) {
    DrainErrors();
    return Refuse(CsrRejection::kBadSignature, "the CSR's signature does not verify");
  }

  // Names: one CN, and at most one SAN that is a dNSName equal to it.
  std::vector<std::string> cns;
  X509_NAME* subject = X509_REQ_get_subject_name(req);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    cns.push_back(internal::Utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i))));
  }
  if (cns.size() != 1) {
    return Refuse(CsrRejection::kNameMismatch,
                  absl::StrCat("the CSR subject must hold exactly one CN; it holds ", cns.size()));
  }
  std::vector<std::string> dns_names;
  internal::ExtensionStackPtr extensions(X509_REQ_get_extensions(req));
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
  // The one peer-name rule: fully qualified DNS names, never IP literals.
  absl::StatusOr<std::string> name = model::NormalizePeerName(cns[0], "the CSR's CN");
  if (!name.ok()) return Refuse(CsrRejection::kNameNotFqdn, name.status().message());
  if (!dns_names.empty()) {
    absl::StatusOr<std::string> san_name =
        model::NormalizePeerName(dns_names[0], "the CSR's subjectAltName");
    if (!san_name.ok()) return Refuse(CsrRejection::kNameNotFqdn, san_name.status().message());
    if (*san_name != *name) {
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
  checked.name = *std::move(name);
  checked.key_description = assessment.description;
  checked.request = *std::move(parsed);
  return checked;
}

}  // namespace

absl::StatusOr<CertificateAuthority::IssuedCertificate> CertificateAuthority::IssuePeerCertificate(
    std::string_view csr_pem, const PeerCertificateOptions& options, absl::Time now) const {
  if (cert_ == nullptr) return absl::FailedPreconditionError("moved-from CA");
  // Policy: the CA can sign now, the request passes, the certificate fits in the CA's life.
  if (absl::Status s = CheckLifetime(options.lifetime); !s.ok()) return s;
  // Validity is inclusive at both ends (RFC 5280 §4.1.2.5).
  if (now < info_.not_before) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "ca_not_yet_valid",
                     absl::StrCat("the CA certificate is not valid before ",
                                  RfcUtc(info_.not_before), "; it cannot sign at ", RfcUtc(now)));
  }
  if (now > info_.not_after) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "ca_expired",
                     absl::StrCat("the CA certificate expired at ", RfcUtc(info_.not_after),
                                  "; it cannot sign at ", RfcUtc(now),
                                  "; roll the CA over (a new_primary plan)"));
  }
  absl::StatusOr<CheckedRequest> request = CheckRequest(csr_pem, options);
  if (!request.ok()) return request.status();
  // Certificates hold whole seconds.
  const absl::Time not_after = absl::FromTimeT(absl::ToTimeT(now + options.lifetime));
  if (not_after > info_.not_after) {
    return MakeError(
        absl::StatusCode::kFailedPrecondition, "outlives_ca",
        absl::StrCat("a certificate for ", request->name, " valid until ", RfcUtc(not_after),
                     " would outlive the CA, which expires at ", RfcUtc(info_.not_after),
                     "; roll the CA over (a new_primary plan) or ask for a lifetime ending by ",
                     "then"));
  }

  // To be signed, then signed.
  absl::StatusOr<internal::X509NamePtr> subject = CommonNameOnly(request->name);
  if (!subject.ok()) return subject.status();
  ToBeSigned tbs;
  tbs.profile = ToBeSigned::Profile::kPeer;
  tbs.subject = subject->get();
  tbs.subject_key = request->key.get();
#if !defined(OPENSSL_IS_BORINGSSL)
  tbs.subject_key_info = X509_REQ_get_X509_PUBKEY(request->request.get());
#endif
  tbs.not_before = now - kBackdate;
  tbs.not_after = not_after;
  tbs.dns_name = request->name;
  absl::StatusOr<X509Ptr> cert = SignCertificate(tbs, cert_.get(), key_.get(), digest_);
  if (!cert.ok()) return cert.status();

  IssuedCertificate issued;
  issued.pem = internal::CertificateToPem(cert->get());
  if (issued.pem.empty()) return absl::InternalError("cannot encode the certificate");
  absl::StatusOr<CertificateInfo> info = internal::Describe(cert->get());
  if (!info.ok()) return info.status();
  issued.info = *std::move(info);
  // The certificate holds the request's key bytes as they were; the request's key, decoded
  // and judged above, is what they describe.
  issued.info.key = request->key_description;
  return issued;
}

}  // namespace arraykit::pki
