// Internal to lib/core/pki: a member's PKCS#10 certificate signing request, parsed for the CA's
// checks (CertificateAuthority::SignPeerCsr).
//
// On OpenSSL 3 the library's X509_REQ decodes the key eagerly through a provider decoder chain
// built per key, which cost more than the ECDSA signature check, and its ASN.1 template parse
// allocates an object per field. This module reads the requests the array's members and the
// openssl CLI make — strict DER; a Name of UTF8/Printable/IA5 strings of printable ASCII;
// P-256 or P-384 by named curve with an uncompressed point, or rsaEncryption; attributes
// whose values are SEQUENCEs; ECDSA or PKCS#1 v1.5 with SHA-256/384/512 — itself, with views
// into the received bytes, and builds the verification key from the point or modulus and
// exponent. The signature is verified over the CertificationRequestInfo as received.
// Anything else goes to the library's own X509_REQ parse of the same bytes, so its outcome
// and messages stay the library's; tests compare both parsers on thousands of corrupted
// requests. On BoringSSL the library's X509_REQ parse is used throughout; it is cheap there.
#ifndef ARRAYKIT_CORE_PKI_CSR_H_
#define ARRAYKIT_CORE_PKI_CSR_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/pki/ossl.h"

namespace arraykit::pki::internal {

// Verification keys for P-256 and P-384 requests, kept between requests by the CA that
// parses them (OpenSSL 3): a new key object copies the curve's parameters through the
// provider, about a third of a request's parse; a kept one only receives the next request's
// point (which is checked to be on the curve as for a new key). A key is held by one request
// at a time — taken and given back with atomic exchanges — so concurrent requests share no
// key. Unused on BoringSSL.
class VerificationKeyPool {
 public:
  enum class Curve { kP256 = 0, kP384 = 1 };

  VerificationKeyPool() = default;
  VerificationKeyPool(const VerificationKeyPool&) = delete;
  VerificationKeyPool& operator=(const VerificationKeyPool&) = delete;
  ~VerificationKeyPool();

  // A kept key on `curve`, or null when none is free. The caller owns it until Give.
  EVP_PKEY* Take(Curve curve);
  // Keeps `key` (on `curve`, holding a valid point, referenced by nothing else) for a later
  // request, or frees it when every slot is full.
  void Give(Curve curve, EVP_PKEY* key);

 private:
  static constexpr int kCurves = 2;
  static constexpr int kSlotsPerCurve = 4;
  std::atomic<EVP_PKEY*> slots_[kCurves][kSlotsPerCurve] = {};
};

// A request's verification key: freed, or given back to the pool it came from.
struct CsrKeyRelease {
  VerificationKeyPool* pool = nullptr;
  VerificationKeyPool::Curve curve = VerificationKeyPool::Curve::kP256;
  void operator()(EVP_PKEY* key) const;
};
using CsrKeyPtr = std::unique_ptr<EVP_PKEY, CsrKeyRelease>;

class ParsedCsr {
 public:
  enum class Parser {
    kFast,     // the local template where it applies (OpenSSL 3), the library otherwise
    kLibrary,  // always the library's X509_REQ (for tests and comparisons)
  };

  // Parses the first PEM "CERTIFICATE REQUEST" of `pem`. A request the library cannot parse
  // is InvalidArgument with the library's error text as the message (what
  // PEM_read_bio_X509_REQ leaves in the error queue); ResourceExhausted when out of memory.
  // With a `pool` (which must outlive the result), an EC verification key is taken from it
  // and given back when the result is destroyed.
  static absl::StatusOr<ParsedCsr> Parse(std::string_view pem, Parser parser = Parser::kFast,
                                         VerificationKeyPool* pool = nullptr);

  ParsedCsr(ParsedCsr&&) noexcept;
  ParsedCsr& operator=(ParsedCsr&&) noexcept;
  ~ParsedCsr();

  // The request's public key, or null when the library cannot use it (unsupported algorithm
  // or curve), as X509_REQ_get_pubkey. Valid while this object lives; never keep a
  // reference to it (it may go back to a pool).
  EVP_PKEY* public_key() const { return public_key_.get(); }
  // The subject's CN values as text (UTF-8), in order.
  std::vector<std::string> CommonNames() const;
  // The requested extensions, as X509_REQ_get_extensions returns them (null when unreadable;
  // the error queue is left to the caller).
  ExtensionStackPtr Extensions() const;

  // Makes the SubjectPublicKeyInfo available to the accessors below (on BoringSSL it is
  // encoded from the key here: its X509_REQ does not expose the parsed one). InternalError
  // "cannot encode the CSR's key: ..." on failure.
  absl::Status PrepareKeyInfo();
  // The key judged against the array's policy, from its AlgorithmIdentifier (AssessPublicKey).
  KeyAssessment AssessKey() const;
  // The SubjectPublicKeyInfo as the library encodes it from its parsed form ("" on failure).
  std::string KeyInfoDer() const;
  // The subjectPublicKey BIT STRING's value bytes; false when unavailable.
  bool KeyBits(const unsigned char** data, int* length) const;

  // OBJ_obj2nid of the signature algorithm, as X509_REQ_get_signature_nid.
  int signature_nid() const;
  // The self-signature checked with public_key() over the CertificationRequestInfo as it was
  // received: 1 when it verifies, as X509_REQ_verify.
  int VerifySignature() const;

  // True when this module read the request (false: the library's X509_REQ).
  bool parsed_locally() const;

 private:
  ParsedCsr();
  struct Local;
  struct LocalFree {
    void operator()(Local* p) const;
  };

  X509ReqPtr req_;  // the library's parse, when it is the one used
  std::unique_ptr<Local, LocalFree> local_;
  CsrKeyPtr public_key_;
  X509PubkeyPtr encoded_key_;  // BoringSSL: the SubjectPublicKeyInfo encoded from the key
};

}  // namespace arraykit::pki::internal

#endif  // ARRAYKIT_CORE_PKI_CSR_H_
