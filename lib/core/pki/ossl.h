// Internal to lib/core/pki: RAII owners for the crypto library's objects and small helpers
// shared by the module's sources. Written to the API OpenSSL 3 and BoringSSL share
// (TOOLCHAIN.md, "one TLS library per process"); not part of the module's public interface.
#ifndef ARRAYKIT_CORE_PKI_OSSL_H_
#define ARRAYKIT_CORE_PKI_OSSL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/pki/secret.h"

namespace arraykit::pki::internal {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};

using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using X509PubkeyPtr = std::unique_ptr<X509_PUBKEY, Deleter<X509_PUBKEY, X509_PUBKEY_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>>;

struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter>;

struct ExtensionStackDeleter {
  void operator()(STACK_OF(X509_EXTENSION) * p) const {
    sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free);
  }
};
using ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionStackDeleter>;

struct X509StackDeleter {
  void operator()(STACK_OF(X509) * p) const { sk_X509_pop_free(p, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

// Debian's Abseil keeps its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0), which
// does not convert from std::string_view; the module's interface uses std::string_view.
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// Upper bound on any PEM or DER input; a peer certificate is ~1 KiB.
inline constexpr std::size_t kMaxInputBytes = 64 * 1024;

// The library's queued error text, then clears the queue so errors never leak into the
// next call's diagnostics.
std::string DrainErrors();

// A read-only memory BIO over `data` (not copied; `data` must outlive the BIO).
BioPtr ReadBio(std::string_view data);

// Contents of a memory BIO.
std::string BioContents(BIO* bio);

// True when `data` starts (after leading whitespace) with a PEM header.
bool LooksLikePem(std::string_view data);

// The DER of exactly one object: either `pem_or_der` is PEM holding one block whose label is
// one of `labels` (explanatory text around it allowed, a second PEM block, a PEM header or a
// bad label not), or it is the DER bytes themselves. The library decodes the PEM; failures
// are InvalidArgument with reason `malformed`, the message starting with `what`.
absl::StatusOr<std::string> SingleDer(std::string_view pem_or_der,
                                      std::initializer_list<std::string_view> labels,
                                      std::string_view what);

// Parses exactly one certificate from PEM or DER by the library's d2i_X509, which must
// consume every byte (DER with trailing bytes, also inside a PEM block, is refused).
// Failures are InvalidArgument with reason `malformed`.
absl::StatusOr<X509Ptr> ParseCertificate(std::string_view pem_or_der);

// The same for one PKCS#10 certificate signing request (PEM "CERTIFICATE REQUEST" or DER).
absl::StatusOr<X509ReqPtr> ParseCertificateRequest(std::string_view pem_or_der);

std::string CertificateToPem(X509* cert);

// PKCS#8 PEM of `key`, in a buffer that is zeroed when released.
absl::StatusOr<SecretString> PrivateKeyToPem(EVP_PKEY* key);
absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(std::string_view pem);

// ASN1_TIME <-> absl::Time without reading the clock (an epoch ASN1_TIME is the reference).
absl::StatusOr<absl::Time> ToAbslTime(const ASN1_TIME* t);
bool SetAsn1Time(ASN1_TIME* t, absl::Time value);

// Subject or issuer as an RFC 2253 string ("CN=boston.example.com").
std::string NameToString(const X509_NAME* name);

// Serial number as uppercase hex without leading zeros ("1A2B...").
std::string SerialToHex(const ASN1_INTEGER* serial);

// The SHA-256 digest of a certificate's DER encoding, as `openssl x509 -fingerprint -sha256`
// prints the value: uppercase hex pairs joined by colons.
std::string Sha256Fingerprint(X509* cert);
// A string's text as UTF-8 (ASN1_STRING_to_UTF8; ASCII in UTF8/IA5/PrintableString copied as
// is); "" when it cannot be converted.
std::string Utf8(const ASN1_STRING* s);
// Bytes as upper-case hex pairs joined by `separator` ("AB:CD" with ":").
std::string UpperHex(const unsigned char* data, std::size_t size, std::string_view separator);

// A serial of 159 random bits from the crypto library's RNG: positive, 20 octets in DER,
// far above the 128 bits of entropy CA/B-style profiles ask for.
absl::StatusOr<Asn1IntegerPtr> RandomSerial();

// The DER encoding of an object through the library's i2d function (`i2d(obj, &p)`), or an
// empty string when the library cannot encode it.
template <typename T, typename I2d>
std::string ToDer(T* obj, I2d i2d) {
  const int len = i2d(obj, nullptr);
  if (len <= 0) return {};
  std::string out(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d(obj, &p) != len) return {};
  return out;
}

// A public key judged against the array's key policy (RSA ≥ 2048 bits; EC on P-256 or P-384
// by named curve only). `description` is "ecdsa-p256", "rsa-1024", "ec-secp256k1", ...
struct KeyAssessment {
  bool allowed = false;
  std::string description;
  bool decodable = true;  // false: an RSA key whose size cannot be read (a malformed key)
};
// Works on the encoded SubjectPublicKeyInfo, so keys the library cannot even decode (BoringSSL
// knows no secp256k1) are still described and refused rather than reported as malformed.
KeyAssessment AssessPublicKey(X509_PUBKEY* spki);
KeyAssessment AssessPublicKey(EVP_PKEY* key);

}  // namespace arraykit::pki::internal

#endif  // ARRAYKIT_CORE_PKI_OSSL_H_
