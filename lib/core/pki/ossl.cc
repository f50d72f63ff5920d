#include "core/pki/ossl.h"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"

namespace arraykit::pki::internal {
namespace {

// Never prompt for a passphrase: the core has no terminal, and keys are stored unencrypted
// with mode 0600 by the member's store.
int NoPassword(char*, int, int, void*) { return 0; }

}  // namespace

std::string DrainErrors() {
  std::string out;
  unsigned long code = 0;  // NOLINT(runtime/int): the library's type
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

BioPtr ReadBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int)
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(len));
}

bool LooksLikePem(std::string_view data) {
  std::size_t i = 0;
  while (i < data.size() && std::isspace(static_cast<unsigned char>(data[i]))) ++i;
  return data.substr(i).starts_with("-----BEGIN ");
}

absl::StatusOr<std::string> SingleDer(std::string_view pem_or_der,
                                      std::initializer_list<std::string_view> labels,
                                      std::string_view what) {
  const absl::string_view name = Av(what);
  auto malformed = [&](std::string_view rule) {
    return MakeError(absl::StatusCode::kInvalidArgument, "malformed",
                     absl::StrCat(name, ": ", Av(rule)));
  };
  if (pem_or_der.empty()) return malformed("empty input");
  if (pem_or_der.size() > kMaxInputBytes) {
    return malformed(absl::StrCat(pem_or_der.size(), " bytes exceed the limit of ", kMaxInputBytes));
  }
  if (!LooksLikePem(pem_or_der) && pem_or_der.find("-----BEGIN ") == std::string_view::npos) {
    return std::string(pem_or_der);  // DER: judged by the d2i that follows
  }
  BioPtr bio = ReadBio(pem_or_der);
  if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
  char* label = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;  // NOLINT(runtime/int): the library's type
  const int read = PEM_read_bio(bio.get(), &label, &header, &data, &len);
  std::string der = read == 1 && data != nullptr && len > 0
                        ? std::string(reinterpret_cast<const char*>(data),
                                      static_cast<std::size_t>(len))
                        : std::string();
  const std::string label_text = label != nullptr ? label : "";
  const bool has_header = header != nullptr && header[0] != '\0';
  OPENSSL_free(label);
  OPENSSL_free(header);
  OPENSSL_free(data);
  if (read != 1 || der.empty()) {
    const std::string detail = DrainErrors();
    return malformed(absl::StrCat("not valid PEM", detail.empty() ? "" : ": ", detail));
  }
  if (std::find(labels.begin(), labels.end(), label_text) == labels.end()) {
    // The label is not echoed: it may say what a misplaced key is.
    return malformed(absl::StrCat("a PEM block of another kind where \"", Av(*labels.begin()),
                                  "\" was expected"));
  }
  if (has_header) return malformed("PEM headers (encryption, Proc-Type) are not accepted");
  // Exactly one object: the rest of the input may carry text, never a second block.
  char* rest = nullptr;
  const long rest_len = BIO_get_mem_data(bio.get(), &rest);  // NOLINT(runtime/int)
  if (rest_len > 0 && rest != nullptr &&
      std::string_view(rest, static_cast<std::size_t>(rest_len)).find("-----BEGIN ") !=
          std::string_view::npos) {
    return malformed("more than one PEM block; exactly one is accepted");
  }
  return der;
}

namespace {

// d2i of `der` that must consume every byte.
template <typename Ptr, typename D2i>
absl::StatusOr<Ptr> DecodeWhole(const std::string& der, D2i d2i, std::string_view what) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* const end = p + der.size();
  Ptr object(d2i(nullptr, &p, static_cast<long>(der.size())));  // NOLINT(runtime/int)
  if (object == nullptr) {
    const std::string detail = DrainErrors();
    return MakeError(absl::StatusCode::kInvalidArgument, "malformed",
                     absl::StrCat(Av(what), ": not valid DER", detail.empty() ? "" : ": ",
                                  detail));
  }
  if (p != end) {
    return MakeError(absl::StatusCode::kInvalidArgument, "malformed",
                     absl::StrCat(Av(what), ": ", end - p, " trailing bytes after the DER"));
  }
  return object;
}

}  // namespace

absl::StatusOr<X509Ptr> ParseCertificate(std::string_view pem_or_der) {
  absl::StatusOr<std::string> der = SingleDer(pem_or_der, {"CERTIFICATE"}, "certificate");
  if (!der.ok()) return der.status();
  return DecodeWhole<X509Ptr>(*der, d2i_X509, "certificate");
}

absl::StatusOr<X509ReqPtr> ParseCertificateRequest(std::string_view pem_or_der) {
  absl::StatusOr<std::string> der = SingleDer(
      pem_or_der, {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}, "certificate request");
  if (!der.ok()) return der.status();
  return DecodeWhole<X509ReqPtr>(*der, d2i_X509_REQ, "certificate request");
}

std::string CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    DrainErrors();
    return {};
  }
  return BioContents(bio.get());
}

absl::StatusOr<SecretString> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("cannot encode private key: ", DrainErrors()));
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int)
  if (len <= 0 || data == nullptr) return absl::InternalError("cannot encode private key");
  SecretString pem(std::string_view(data, static_cast<std::size_t>(len)));
  // Wipe the BIO's copy before it is freed.
  OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  return pem;
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(std::string_view pem) {
  if (pem.empty()) return absl::InvalidArgumentError("empty private key input");
  if (pem.size() > kMaxInputBytes) return absl::InvalidArgumentError("private key input too large");
  BioPtr bio = ReadBio(pem);
  if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  // The library's error text never contains key bytes, but keep the message fixed anyway.
  if (key == nullptr) {
    DrainErrors();
    return absl::InvalidArgumentError("not a PEM private key (PKCS#8 or traditional, unencrypted)");
  }
  return key;
}

absl::StatusOr<absl::Time> ToAbslTime(const ASN1_TIME* t) {
  if (t == nullptr) return absl::InvalidArgumentError("missing time");
  Asn1TimePtr epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (epoch == nullptr || ASN1_TIME_diff(&days, &seconds, epoch.get(), t) != 1) {
    DrainErrors();
    return absl::InvalidArgumentError("malformed certificate time");
  }
  return absl::UnixEpoch() + absl::Hours(24) * days + absl::Seconds(seconds);
}

bool SetAsn1Time(ASN1_TIME* t, absl::Time value) {
  return ASN1_TIME_set(t, absl::ToTimeT(value)) != nullptr;
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return {};
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    DrainErrors();
    return {};
  }
  return BioContents(bio.get());
}

std::string SerialToHex(const ASN1_INTEGER* serial) {
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (bn == nullptr) {
    DrainErrors();
    return {};
  }
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return {};
  std::string out(hex);
  OPENSSL_free(hex);
  absl::AsciiStrToUpper(&out);  // BoringSSL writes lower case
  return out;
}

std::string Utf8(const ASN1_STRING* s) {
  // ASCII text in a UTF8String, IA5String or PrintableString converts to itself (what
  // ASN1_STRING_to_UTF8 returns for it); anything else is the library's conversion.
  if (const int type = ASN1_STRING_type(s);
      type == V_ASN1_UTF8STRING || type == V_ASN1_IA5STRING || type == V_ASN1_PRINTABLESTRING) {
    const unsigned char* data = ASN1_STRING_get0_data(s);
    const int len = ASN1_STRING_length(s);
    if (data != nullptr && len > 0 &&
        std::all_of(data, data + len, [](unsigned char c) { return c >= 0x01 && c <= 0x7F; })) {
      return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(len));
    }
  }
  unsigned char* out = nullptr;
  const int len = ASN1_STRING_to_UTF8(&out, s);
  if (len < 0 || out == nullptr) {
    DrainErrors();
    return {};
  }
  std::string text(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
  OPENSSL_free(out);
  return text;
}

std::string UpperHex(const unsigned char* data, std::size_t size, std::string_view separator) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(size * (2 + separator.size()));
  for (std::size_t i = 0; i < size; ++i) {
    if (i != 0) out.append(separator.data(), separator.size());
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xF];
  }
  return out;
}

std::string Sha256Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) {
    DrainErrors();
    return {};
  }
  return UpperHex(md, len, ":");
}

absl::StatusOr<Asn1IntegerPtr> RandomSerial() {
  unsigned char bytes[20];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError(absl::StrCat("random number generator failed: ", DrainErrors()));
  }
  // Clear the sign bit (positive in DER) and set the next one so the value never shrinks.
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7F) | 0x40);
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (bn == nullptr) return absl::ResourceExhaustedError("out of memory");
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (serial == nullptr) return absl::ResourceExhaustedError("out of memory");
  return serial;
}

namespace {

// Judges an AlgorithmIdentifier; `rsa_bits` is asked only for RSA keys.
template <typename RsaBits>
KeyAssessment AssessAlgorithm(const X509_ALGOR* algor, RsaBits rsa_bits) {
  const ASN1_OBJECT* algorithm = nullptr;
  int param_type = 0;
  const void* param = nullptr;
  X509_ALGOR_get0(&algorithm, &param_type, &param, algor);
  if (algorithm == nullptr) return {false, "unreadable public key"};
  const int nid = OBJ_obj2nid(algorithm);
  if (nid == NID_X9_62_id_ecPublicKey) {
    if (param_type != V_ASN1_OBJECT || param == nullptr) {
      return {false, "ec key with explicit curve parameters"};
    }
    const int curve = OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(param));
    if (curve == NID_X9_62_prime256v1) return {true, "ecdsa-p256"};
    if (curve == NID_secp384r1) return {true, "ecdsa-p384"};
    const char* sn = curve == NID_undef ? nullptr : OBJ_nid2sn(curve);
    return {false, absl::StrCat("ec-", sn != nullptr ? sn : "unknown-curve")};
  }
  if (nid == NID_rsaEncryption) {
    const int bits = rsa_bits();
    if (bits <= 0) return {false, "undecodable rsa key", /*decodable=*/false};
    return {bits >= 2048, absl::StrCat("rsa-", bits)};
  }
  const char* sn = nid == NID_undef ? nullptr : OBJ_nid2sn(nid);
  return {false, absl::StrCat("unsupported key algorithm ", sn != nullptr ? sn : "unknown")};
}

using X509AlgorPtr = std::unique_ptr<X509_ALGOR, Deleter<X509_ALGOR, X509_ALGOR_free>>;

}  // namespace

KeyAssessment AssessPublicKey(X509_PUBKEY* spki) {
  if (spki == nullptr) return {false, "missing public key"};
  X509_ALGOR* algor = nullptr;
  if (X509_PUBKEY_get0_param(nullptr, nullptr, nullptr, &algor, spki) != 1 || algor == nullptr) {
    DrainErrors();
    return {false, "unreadable public key"};
  }
  return AssessAlgorithm(algor, [spki] {
    EvpPkeyPtr key(X509_PUBKEY_get(spki));
    DrainErrors();
    return key == nullptr ? 0 : EVP_PKEY_bits(key.get());
  });
}

KeyAssessment AssessPublicKey(EVP_PKEY* key) {
  if (key == nullptr) return {false, "missing public key"};
  // Only the AlgorithmIdentifier of the encoded key is parsed: decoding the whole
  // SubjectPublicKeyInfo again would rebuild a key object, which OpenSSL 3.0 makes slow.
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0 || der == nullptr) {
    DrainErrors();
    return {false, "unencodable public key"};
  }
  const unsigned char* p = der;
  long content_len = 0;  // NOLINT(runtime/int): the library's type
  int tag = 0;
  int xclass = 0;
  X509AlgorPtr algor;
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey ... }
  if ((ASN1_get_object(&p, &content_len, &tag, &xclass, len) & 0x80) == 0 &&
      tag == V_ASN1_SEQUENCE) {
    algor.reset(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(der + len - p)));  // NOLINT
  }
  OPENSSL_free(der);
  if (algor == nullptr) {
    DrainErrors();
    return {false, "unencodable public key"};
  }
  return AssessAlgorithm(algor.get(), [key] { return EVP_PKEY_bits(key); });
}

}  // namespace arraykit::pki::internal
