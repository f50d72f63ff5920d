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

absl::StatusOr<X509Ptr> ParseCertificate(std::string_view pem_or_der) {
  if (pem_or_der.empty()) return absl::InvalidArgumentError("empty certificate input");
  if (pem_or_der.size() > kMaxInputBytes) {
    return absl::InvalidArgumentError(absl::StrCat("certificate input of ", pem_or_der.size(),
                                                   " bytes exceeds the limit of ", kMaxInputBytes));
  }
  X509Ptr cert;
  if (LooksLikePem(pem_or_der)) {
    BioPtr bio = ReadBio(pem_or_der);
    if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
    cert.reset(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
    if (cert == nullptr) {
      std::string detail = DrainErrors();
      return absl::InvalidArgumentError(
          absl::StrCat("not a PEM certificate", detail.empty() ? "" : ": ", detail));
    }
  } else {
    const auto* p = reinterpret_cast<const unsigned char*>(pem_or_der.data());
    const unsigned char* end = p + pem_or_der.size();
    cert.reset(d2i_X509(nullptr, &p, static_cast<long>(pem_or_der.size())));  // NOLINT
    if (cert == nullptr) {
      std::string detail = DrainErrors();
      return absl::InvalidArgumentError(
          absl::StrCat("not a DER certificate", detail.empty() ? "" : ": ", detail));
    }
    if (p != end) {
      return absl::InvalidArgumentError("trailing bytes after the DER certificate");
    }
  }
  return cert;
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

std::string Sha256FingerprintOfDer(std::string_view der) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(der.data(), der.size(), md, &len, PrefetchedDigest(EVP_sha256()), nullptr) != 1) {
    DrainErrors();
    return {};
  }
  return UpperHex(md, len, ":");
}

absl::Status RandomSerialOctets(unsigned char (&octets)[kSerialOctets]) {
  if (RAND_bytes(octets, sizeof(octets)) != 1) {
    return absl::InternalError(absl::StrCat("random number generator failed: ", DrainErrors()));
  }
  // Clear the sign bit (positive in DER) and set the next one so the value never shrinks.
  octets[0] = static_cast<unsigned char>((octets[0] & 0x7F) | 0x40);
  return absl::OkStatus();
}

absl::StatusOr<Asn1IntegerPtr> RandomSerial() {
  unsigned char bytes[kSerialOctets];
  if (absl::Status s = RandomSerialOctets(bytes); !s.ok()) return s;
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (bn == nullptr) return absl::ResourceExhaustedError("out of memory");
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (serial == nullptr) return absl::ResourceExhaustedError("out of memory");
  return serial;
}

void AppendTlv(std::string& out, unsigned char tag, std::string_view content) {
  out.push_back(static_cast<char>(tag));
  const std::size_t len = content.size();
  if (len < 0x80) {
    out.push_back(static_cast<char>(len));
  } else {
    // Long form: 0x80 | number of length octets, then the length big-endian, minimal.
    unsigned char octets[sizeof(std::size_t)];
    int n = 0;
    for (std::size_t v = len; v != 0; v >>= 8) octets[n++] = static_cast<unsigned char>(v & 0xFF);
    out.push_back(static_cast<char>(0x80 | n));
    while (n > 0) out.push_back(static_cast<char>(octets[--n]));
  }
  out.append(content.data(), content.size());
}

std::string Tlv(unsigned char tag, std::string_view content) {
  std::string out;
  out.reserve(content.size() + 6);
  AppendTlv(out, tag, content);
  return out;
}

namespace {
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The value of a base64 character, or -1.
int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string DerToPem(std::string_view der, std::string_view label) {
  // Base64 (RFC 4648, padded) written straight into 64-character lines (48 input octets each).
  const std::size_t b64_len = (der.size() + 2) / 3 * 4;
  const std::size_t lines = (b64_len + 63) / 64;
  std::string out;
  out.reserve(b64_len + lines + 2 * label.size() + 32);
  absl::StrAppend(&out, "-----BEGIN ", Av(label), "-----\n");
  const std::size_t body = out.size();
  out.resize(body + b64_len + lines);
  char* w = out.data() + body;
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  std::size_t remaining = der.size();
  while (remaining > 0) {
    const std::size_t chunk = std::min<std::size_t>(remaining, 48);
    std::size_t i = 0;
    for (; i + 3 <= chunk; i += 3) {
      const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
      w[0] = kBase64[(v >> 18) & 0x3F];
      w[1] = kBase64[(v >> 12) & 0x3F];
      w[2] = kBase64[(v >> 6) & 0x3F];
      w[3] = kBase64[v & 0x3F];
      w += 4;
    }
    if (const std::size_t rest = chunk - i; rest != 0) {
      const uint32_t v = (uint32_t{in[i]} << 16) | (rest == 2 ? uint32_t{in[i + 1]} << 8 : 0);
      w[0] = kBase64[(v >> 18) & 0x3F];
      w[1] = kBase64[(v >> 12) & 0x3F];
      w[2] = rest == 2 ? kBase64[(v >> 6) & 0x3F] : '=';
      w[3] = '=';
      w += 4;
    }
    *w++ = '\n';
    in += chunk;
    remaining -= chunk;
  }
  absl::StrAppend(&out, "-----END ", Av(label), "-----\n");
  return out;
}

bool DecodeCanonicalPem(std::string_view pem, std::string_view label, std::string& der) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  constexpr std::string_view kEnd = "-----END ";
  constexpr std::string_view kDashes = "-----\n";
  // "-----BEGIN `label`-----\n"
  if (pem.size() < kBegin.size() + label.size() + kDashes.size() || !pem.starts_with(kBegin) ||
      pem.substr(kBegin.size(), label.size()) != label ||
      pem.substr(kBegin.size() + label.size(), kDashes.size()) != kDashes) {
    return false;
  }
  std::size_t pos = kBegin.size() + label.size() + kDashes.size();
  der.resize((pem.size() - pos) / 4 * 3);
  auto* w = reinterpret_cast<unsigned char*>(der.data());
  const unsigned char* const w0 = w;
  bool last_line = false;  // a line shorter than 64 characters (or padded) ends the data
  while (true) {
    const std::size_t nl = pem.find('\n', pos);
    if (nl == std::string_view::npos) return false;
    const std::size_t line_len = nl - pos;
    if (line_len >= 5 && pem.compare(pos, 5, "-----") == 0) {
      // "-----END `label`-----\n" after at least one line of data.
      if (w == w0 || line_len != kEnd.size() + label.size() + 5 ||
          pem.compare(pos, kEnd.size(), kEnd) != 0 ||
          pem.compare(pos + kEnd.size(), label.size(), label) != 0 ||
          pem.compare(pos + kEnd.size() + label.size(), 5, "-----") != 0) {
        return false;
      }
      der.resize(static_cast<std::size_t>(w - w0));
      return true;
    }
    if (last_line || line_len == 0 || line_len > 64 || line_len % 4 != 0) return false;
    last_line = line_len < 64;
    const char* line = pem.data() + pos;
    for (std::size_t q = 0; q < line_len; q += 4) {
      const int v0 = Base64Value(line[q]);
      const int v1 = Base64Value(line[q + 1]);
      const int v2 = Base64Value(line[q + 2]);
      const int v3 = Base64Value(line[q + 3]);
      if (v0 < 0 || v1 < 0) return false;
      if (v2 >= 0 && v3 >= 0) {
        const uint32_t bits = (uint32_t(v0) << 18) | (uint32_t(v1) << 12) | (uint32_t(v2) << 6) |
                              uint32_t(v3);
        *w++ = static_cast<unsigned char>(bits >> 16);
        *w++ = static_cast<unsigned char>(bits >> 8);
        *w++ = static_cast<unsigned char>(bits);
        continue;
      }
      // Padding: only as the last quantum of the data, "xx==" or "xxx=", with no bits set
      // beyond the data octets (the one encoding of them).
      if (q + 4 != line_len || line[q + 3] != '=') return false;
      if (line[q + 2] == '=') {
        if ((v1 & 0x0F) != 0) return false;
        *w++ = static_cast<unsigned char>((v0 << 2) | (v1 >> 4));
      } else {
        if (v2 < 0 || (v2 & 0x03) != 0) return false;
        *w++ = static_cast<unsigned char>((v0 << 2) | (v1 >> 4));
        *w++ = static_cast<unsigned char>(((v1 & 0x0F) << 4) | (v2 >> 2));
      }
      last_line = true;
    }
    pos = nl + 1;
  }
}

const EVP_MD* PrefetchedDigest(const EVP_MD* md) {
#if defined(OPENSSL_IS_BORINGSSL)
  return md;
#else
  if (md == nullptr) return md;
  // Fetched once each, never freed: immutable, shared by every thread.
  auto fetch = [](const char* name) -> const EVP_MD* {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, name, nullptr);
    if (fetched == nullptr) DrainErrors();
    return fetched;
  };
  const EVP_MD* out = nullptr;
  switch (EVP_MD_get_type(md)) {
    case NID_sha1: {
      static const EVP_MD* const sha1 = fetch("SHA1");
      out = sha1;
      break;
    }
    case NID_sha256: {
      static const EVP_MD* const sha256 = fetch("SHA256");
      out = sha256;
      break;
    }
    case NID_sha384: {
      static const EVP_MD* const sha384 = fetch("SHA384");
      out = sha384;
      break;
    }
    case NID_sha512: {
      static const EVP_MD* const sha512 = fetch("SHA512");
      out = sha512;
      break;
    }
    default:
      break;
  }
  return out != nullptr ? out : md;
#endif
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
    if (bits <= 0) return {false, "undecodable rsa key"};
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

KeyAssessment AssessPublicKey(const X509_ALGOR* algorithm, EVP_PKEY* key) {
  if (algorithm == nullptr) return {false, "unreadable public key"};
  return AssessAlgorithm(algorithm, [key] { return key == nullptr ? 0 : EVP_PKEY_bits(key); });
}

}  // namespace arraykit::pki::internal
