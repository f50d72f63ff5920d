// Internal to lib/core/pki: a member's PKCS#10 certificate signing request, parsed for the CA's
// checks (CertificateAuthority::SignPeerCsr).
//
// On OpenSSL 3 the request is parsed with the library's ASN.1 template engine, through a local
// template whose SubjectPublicKeyInfo is a plain AlgorithmIdentifier + BIT STRING: the
// library's X509_REQ decodes the key eagerly through a provider decoder chain built per key,
// which cost more than the ECDSA signature check. The verification key is then built from
// the parsed fields (EVP_PKEY_fromdata) for the keys the array accepts — P-256 or P-384 by
// named curve, rsaEncryption — and the CertificationRequestInfo keeps its received encoding,
// so the signature is verified over the original bytes. Anything else (other algorithms,
// explicit curve parameters, other point encodings, unparseable input) is handed to the
// library's own X509_REQ parse, so its outcome and messages stay the library's.
// On BoringSSL the library's X509_REQ parse is used throughout; it is cheap there.
#ifndef ARRAYKIT_CORE_PKI_CSR_H_
#define ARRAYKIT_CORE_PKI_CSR_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/pki/ossl.h"

namespace arraykit::pki::internal {

class ParsedCsr {
 public:
  enum class Parser {
    kFast,     // the local template where it applies (OpenSSL 3), the library otherwise
    kLibrary,  // always the library's X509_REQ (for tests and comparisons)
  };

  // Parses the first PEM "CERTIFICATE REQUEST" of `pem`. A request the library cannot parse
  // is InvalidArgument with the library's error text as the message (what
  // PEM_read_bio_X509_REQ leaves in the error queue); ResourceExhausted when out of memory.
  static absl::StatusOr<ParsedCsr> Parse(std::string_view pem, Parser parser = Parser::kFast);

  ParsedCsr(ParsedCsr&&) noexcept;
  ParsedCsr& operator=(ParsedCsr&&) noexcept;
  ~ParsedCsr();

  // The request's public key, or null when the library cannot use it (unsupported algorithm
  // or curve), as X509_REQ_get_pubkey.
  EVP_PKEY* public_key() const { return public_key_.get(); }
  const X509_NAME* subject() const;
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

  // True when the local template parsed the request (false: the library's X509_REQ).
  bool parsed_locally() const;

 private:
  ParsedCsr();
  struct Local;
  struct LocalFree {
    void operator()(Local* p) const;
  };

  X509ReqPtr req_;  // the library's parse, when it is the one used
  std::unique_ptr<Local, LocalFree> local_;
  EvpPkeyPtr public_key_;
  X509PubkeyPtr encoded_key_;  // BoringSSL: the SubjectPublicKeyInfo encoded from the key
};

}  // namespace arraykit::pki::internal

#endif  // ARRAYKIT_CORE_PKI_CSR_H_
