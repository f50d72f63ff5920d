// The array's private PKI (DESIGN.md §6): key types, the CA kept by the primary, the members'
// keys and certificate signing requests, and peer certificates.
//
// Inputs and outputs are PEM strings, plain values and JSON, so the C ABI and the Python module
// can expose them without new types. Private keys only ever appear as SecretString PEM, returned
// to the member that owns them; they are never part of an error message or a JSON document.
//
// Purity: nothing here reads the clock, files or the network; the current time is an argument.
// Key generation and certificate serials draw on the crypto library's own RNG (RAND_bytes and
// EVP_PKEY_keygen) — the one source of nondeterminism the core accepts, because keys must not be
// reproducible from an injected seed.
#ifndef ARRAYKIT_CORE_PKI_PKI_H_
#define ARRAYKIT_CORE_PKI_PKI_H_

#include <openssl/ossl_typ.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/pki/secret.h"
#include "nlohmann/json.hpp"

namespace arraykit::pki {

// ---- key types ---------------------------------------------------------------------------------

// The key types the array accepts. ECDSA P-256 is the default: cheap to generate on the join
// and failover paths, where RSA key generation would cost tens to hundreds of milliseconds.
enum class KeyType { kEcdsaP256, kEcdsaP384, kRsa2048, kRsa3072 };

// "ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072".
std::string_view ToString(KeyType type);
// Accepts the names above (case-insensitive; "p256"/"p-256"/"prime256v1"/"rsa2048" spellings
// too). Anything else — RSA below 2048 bits, other curves, DSA, Ed25519 — is refused with a
// message naming the allowed types.
absl::StatusOr<KeyType> ParseKeyType(std::string_view name);
// The allowed names, for messages and `--help`.
std::string AllowedKeyTypes();

// A fresh private key as PKCS#8 PEM, from the crypto library's RNG.
absl::StatusOr<SecretString> GeneratePrivateKey(KeyType type);

// ---- names -------------------------------------------------------------------------------------

// The normalized peer DNS name (lower case, trailing dot removed), validated by the one peer
// name rule of model::NormalizePeerName: fully qualified, never an IP literal or a wildcard.
absl::StatusOr<std::string> NormalizePeerName(std::string_view name);

// ---- certificates ------------------------------------------------------------------------------

// What operators and `arrayctl security` show about a certificate.
struct CertificateInfo {
  std::string subject;     // RFC 2253, e.g. "CN=boston.example.com"
  std::string issuer;      // RFC 2253
  std::string serial_hex;  // uppercase hex, no leading zeros
  absl::Time not_before;
  absl::Time not_after;
  std::string fingerprint_sha256;  // "AB:CD:...", as `openssl x509 -noout -fingerprint -sha256`
  bool is_ca = false;
  std::vector<std::string> dns_names;  // subjectAltName dNSName entries
  std::string key;                     // "ecdsa-p256", "rsa-2048", ... or what it really is

  // {"subject", "issuer", "serial", "not_before", "not_after" (RFC 3339 UTC),
  //  "fingerprint_sha256", "is_ca", "dns_names", "key", "renewal_at" (RenewalTime)}
  nlohmann::json ToJson() const;
};

// Parses exactly one certificate (one PEM block, or DER without trailing bytes) and describes
// it. Anything else is INVALID_ARGUMENT with reason `malformed`.
absl::StatusOr<CertificateInfo> InspectCertificate(std::string_view pem_or_der);

// The PEM text of exactly one certificate given as DER or PEM (as InspectCertificate reads
// it): how DER reaches interfaces that take PEM.
absl::StatusOr<std::string> CertificateAsPem(std::string_view pem_or_der);

// The SHA-256 fingerprint of a certificate (PEM or DER), formatted as CertificateInfo says.
absl::StatusOr<std::string> Fingerprint(std::string_view pem_or_der);

// Normalizes a fingerprint typed by an operator ("ab:cd…", "abcd…", with or without the
// "SHA256 Fingerprint=" prefix) to the canonical form, or fails if it is not 32 bytes of hex.
absl::StatusOr<std::string> NormalizeFingerprint(std::string_view text);

// True once `now` has reached two thirds of the certificate's lifetime: the renewal point.
bool RenewalDue(absl::Time not_before, absl::Time not_after, absl::Time now);
absl::Time RenewalTime(absl::Time not_before, absl::Time not_after);

// ---- member side: certificate signing requests -------------------------------------------------

// A CSR for `peer_name` (normalized) signed with the member's private key: subject CN and one
// SAN dNSName, both the normalized name. The key never leaves the member; the CSR does.
absl::StatusOr<std::string> CreateCsr(std::string_view private_key_pem, std::string_view peer_name);

// A fresh key (GeneratePrivateKey) and its CSR (CreateCsr) in one step, without reading the
// key back from its PEM (a decode that OpenSSL 3 makes expensive).
struct MemberRequest {
  SecretString private_key_pem;
  std::string csr_pem;
};
absl::StatusOr<MemberRequest> CreateKeyAndCsr(KeyType type, std::string_view peer_name);

// ---- CA side -----------------------------------------------------------------------------------

// Why the CA refused a CSR. Every refusal has one shape: PERMISSION_DENIED whose reason
// (ReasonOf, ak_last_error_reason) is the code below; the message says why, for people.
enum class CsrRejection {
  kMalformed,          // "malformed": not exactly one parseable PKCS#10 request
  kBadSignature,       // "bad_signature": the request's self-signature does not verify
  kNotAMember,         // "not_a_member": the name is not a member of the array
  kNameMismatch,       // "name_mismatch": CN and SAN disagree, or not the expected member
  kWeakKey,            // "weak_key": RSA < 2048, a curve other than P-256/P-384, other types
  kBadSubjectAltName,  // "bad_subject_alt_name": extra names, non-DNS names, wildcards
  kNameNotFqdn,        // "name_not_fqdn": the name breaks the peer-name rule (e.g. an IP literal)
};
std::string_view ToString(CsrRejection rejection);
std::optional<CsrRejection> GetCsrRejection(const absl::Status& status);

struct CaOptions {
  std::string common_name = "arraykit array CA";  // callers add the primary's name
  KeyType key_type = KeyType::kEcdsaP256;
  absl::Duration lifetime = absl::Hours(24 * 365 * 5);
};

struct PeerCertificateOptions {
  // The array's members (any spelling; compared normalized). The CSR's name must be one.
  std::vector<std::string> member_names;
  // When set, the CSR must ask for exactly this member (the one the runtime is enrolling).
  std::string expected_name;
  absl::Duration lifetime = absl::Hours(24 * 90);
};

// Starting a certificate 5 minutes in the past tolerates clock skew between members.
inline constexpr absl::Duration kBackdate = absl::Minutes(5);
inline constexpr absl::Duration kMaxLifetime = absl::Hours(24 * 365 * 30);

// The array's certificate authority: the CA certificate and its key, held by the primary.
// Move-only; the parsed key is kept so signing does not re-parse PEM each time.
class CertificateAuthority {
 public:
  // A new self-signed CA: CA:TRUE pathlen:0 (critical), keyCertSign + cRLSign (critical),
  // subject key identifier, a 159-bit random serial, valid from now − 5 min for `lifetime`.
  static absl::StatusOr<CertificateAuthority> Create(const CaOptions& options, absl::Time now);
  // An existing CA from its certificate and key (checks that they belong together and that the
  // certificate is a CA certificate).
  static absl::StatusOr<CertificateAuthority> Load(std::string_view certificate_pem,
                                                   std::string_view private_key_pem);

  CertificateAuthority(CertificateAuthority&&) noexcept;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept;
  ~CertificateAuthority();

  const std::string& certificate_pem() const { return certificate_pem_; }
  const CertificateInfo& info() const { return info_; }
  const std::string& fingerprint() const { return info_.fingerprint_sha256; }

  // The CA key as PKCS#8 PEM, for the primary's own store.
  absl::StatusOr<SecretString> PrivateKeyPem() const;

  // Signs a member's CSR into a peer certificate (PEM): subject CN and SAN dNSName = the
  // normalized peer DNS name, EKU serverAuth + clientAuth, KU digitalSignature (critical),
  // CA:FALSE, SKI/AKI, random serial, valid from now − 5 min for `options.lifetime`.
  // The CSR is parsed by the crypto library. Refusals of the CSR carry a CsrRejection (see
  // GetCsrRejection). FAILED_PRECONDITION when the CA cannot sign at `now` (reasons
  // `ca_not_yet_valid`, `ca_expired`; validity is inclusive at notAfter) or when the
  // certificate would outlive the CA (`outlives_ca`: it is never silently shortened).
  absl::StatusOr<std::string> SignPeerCsr(std::string_view csr_pem,
                                          const PeerCertificateOptions& options,
                                          absl::Time now) const;

  // SignPeerCsr plus the description of what was issued (as InspectCertificate reads it).
  struct IssuedCertificate {
    std::string pem;
    CertificateInfo info;
  };
  absl::StatusOr<IssuedCertificate> IssuePeerCertificate(std::string_view csr_pem,
                                                         const PeerCertificateOptions& options,
                                                         absl::Time now) const;

 private:
  struct X509Free {
    void operator()(X509* p) const;
  };
  struct PkeyFree {
    void operator()(EVP_PKEY* p) const;
  };
  CertificateAuthority() = default;
  // The CA from a checked certificate and its key (takes ownership of both).
  static absl::StatusOr<CertificateAuthority> FromParts(X509* cert, EVP_PKEY* key,
                                                        const EVP_MD* digest);

  std::unique_ptr<X509, X509Free> cert_;
  std::unique_ptr<EVP_PKEY, PkeyFree> key_;
  const EVP_MD* digest_ = nullptr;  // chosen once for the CA key
  std::string certificate_pem_;
  CertificateInfo info_;
};

namespace internal {
// Describes a parsed certificate; shared by the module's sources.
absl::StatusOr<CertificateInfo> Describe(X509* cert);
// OK when `cert` may act as the array's CA: basicConstraints CA:TRUE and a keyUsage extension
// with keyCertSign; else INVALID_ARGUMENT with reason `not_a_ca`.
absl::Status CheckCaCertificate(X509* cert);
}  // namespace internal

}  // namespace arraykit::pki

#endif  // ARRAYKIT_CORE_PKI_PKI_H_
