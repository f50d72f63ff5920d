#include "core/pki/csr.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#if defined(OPENSSL_IS_BORINGSSL)
#include <openssl/bytestring.h>
#else
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#endif

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace arraykit::pki::internal {

#if !defined(OPENSSL_IS_BORINGSSL)
namespace {

// ---- strict DER (RFC 2986 §4 as X.690 DER) ------------------------------------------------------

constexpr unsigned char kTagInteger = 0x02;
constexpr unsigned char kTagBitString = 0x03;
constexpr unsigned char kTagOid = 0x06;
constexpr unsigned char kTagUtf8String = 0x0C;
constexpr unsigned char kTagPrintableString = 0x13;
constexpr unsigned char kTagIa5String = 0x16;
constexpr unsigned char kTagSequence = 0x30;
constexpr unsigned char kTagSet = 0x31;
constexpr unsigned char kTagAttributes = 0xA0;  // [0] IMPLICIT SET OF, constructed

// Reads received bytes as DER: one-octet tags, definite lengths in their shortest form, at
// most 3 length octets. A read that fails leaves the request to the library's parser.
class DerReader {
 public:
  explicit DerReader(std::string_view data) : rest_(data) {}
  bool empty() const { return rest_.empty(); }
  unsigned char next_tag() const { return rest_.empty() ? 0 : Octet(rest_, 0); }

  // The next element when its tag is `tag`: its value in `contents`, all of it in `element`.
  bool Read(unsigned char tag, std::string_view* contents, std::string_view* element = nullptr) {
    if (rest_.size() < 2 || Octet(rest_, 0) != tag) return false;
    std::size_t header = 2;
    std::size_t length = Octet(rest_, 1);
    if (length >= 0x80) {
      const std::size_t octets = length & 0x7F;
      if (octets == 0 || octets > 3 || rest_.size() < 2 + octets || Octet(rest_, 2) == 0) {
        return false;
      }
      length = 0;
      for (std::size_t i = 0; i < octets; ++i) length = (length << 8) | Octet(rest_, 2 + i);
      if (length < 0x80) return false;
      header += octets;
    }
    if (rest_.size() - header < length) return false;
    if (contents != nullptr) *contents = rest_.substr(header, length);
    if (element != nullptr) *element = rest_.substr(0, header + length);
    rest_.remove_prefix(header + length);
    return true;
  }

  static unsigned char Octet(std::string_view s, std::size_t i) {
    return static_cast<unsigned char>(s[i]);
  }

 private:
  std::string_view rest_;
};

// OBJECT IDENTIFIER contents the library accepts (c2i_ASN1_OBJECT): not empty, the last octet
// ending a sub-identifier, no sub-identifier starting with a 0x80 padding octet.
bool WellFormedOid(std::string_view oid) {
  if (oid.empty() || (DerReader::Octet(oid, oid.size() - 1) & 0x80) != 0) return false;
  for (std::size_t i = 0; i < oid.size(); ++i) {
    if (DerReader::Octet(oid, i) == 0x80 && (i == 0 || (DerReader::Octet(oid, i - 1) & 0x80) == 0)) {
      return false;
    }
  }
  return true;
}

std::string_view OidOf(int nid) {
  const ASN1_OBJECT* object = OBJ_nid2obj(nid);
  const unsigned char* data = object == nullptr ? nullptr : OBJ_get0_data(object);
  if (data == nullptr) return {};
  return {reinterpret_cast<const char*>(data), OBJ_length(object)};
}

// An AlgorithmIdentifier as the library encodes it (empty when it cannot), and parsed.
struct Algorithm {
  std::string der;
  X509_ALGOR* parsed = nullptr;  // made once per process, never modified or freed
};
Algorithm MakeAlgorithm(int nid, int param_type, void* param) {
  Algorithm a;
  a.parsed = X509_ALGOR_new();
  ASN1_OBJECT* object = OBJ_nid2obj(nid);
  if (a.parsed == nullptr || object == nullptr ||
      X509_ALGOR_set0(a.parsed, object, param_type, param) != 1) {
    X509_ALGOR_free(a.parsed);
    DrainErrors();
    return {};
  }
  a.der = ToDer(a.parsed, i2d_X509_ALGOR);
  return a;
}

// The subject key algorithms this parser takes, identified by their exact encoding.
struct KeyAlgorithm {
  Algorithm algorithm;
  int key_type;                      // EVP_PKEY_EC or EVP_PKEY_RSA
  VerificationKeyPool::Curve curve;  // EC only
  std::size_t point_octets;          // EC only: an uncompressed point
};
const KeyAlgorithm* FindKeyAlgorithm(std::string_view der) {
  static const auto* const known = [] {
    auto curve = [](int nid) { return static_cast<void*>(OBJ_nid2obj(nid)); };
    return new std::array<KeyAlgorithm, 3>{{
        {MakeAlgorithm(NID_X9_62_id_ecPublicKey, V_ASN1_OBJECT, curve(NID_X9_62_prime256v1)),
         EVP_PKEY_EC, VerificationKeyPool::Curve::kP256, 65},
        {MakeAlgorithm(NID_X9_62_id_ecPublicKey, V_ASN1_OBJECT, curve(NID_secp384r1)),
         EVP_PKEY_EC, VerificationKeyPool::Curve::kP384, 97},
        {MakeAlgorithm(NID_rsaEncryption, V_ASN1_NULL, nullptr), EVP_PKEY_RSA,
         VerificationKeyPool::Curve::kP256, 0},
    }};
  }();
  for (const KeyAlgorithm& k : *known) {
    if (!k.algorithm.der.empty() && k.algorithm.der == der) return &k;
  }
  return nullptr;
}

// The signature algorithms this parser takes: ECDSA (no parameters) and PKCS#1 v1.5 (NULL
// parameters) with SHA-256/384/512, each for its key type.
struct SignatureAlgorithm {
  std::string der;
  int nid;
  int key_type;
  const EVP_MD* digest;  // fetched once
};
const SignatureAlgorithm* FindSignatureAlgorithm(std::string_view der) {
  static const auto* const known = [] {
    auto make = [](int nid, int key_type, const EVP_MD* md) {
      const Algorithm a =
          MakeAlgorithm(nid, key_type == EVP_PKEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, nullptr);
      X509_ALGOR_free(a.parsed);
      return SignatureAlgorithm{a.der, nid, key_type, PrefetchedDigest(md)};
    };
    return new std::array<SignatureAlgorithm, 6>{{
        make(NID_ecdsa_with_SHA256, EVP_PKEY_EC, EVP_sha256()),
        make(NID_ecdsa_with_SHA384, EVP_PKEY_EC, EVP_sha384()),
        make(NID_ecdsa_with_SHA512, EVP_PKEY_EC, EVP_sha512()),
        make(NID_sha256WithRSAEncryption, EVP_PKEY_RSA, EVP_sha256()),
        make(NID_sha384WithRSAEncryption, EVP_PKEY_RSA, EVP_sha384()),
        make(NID_sha512WithRSAEncryption, EVP_PKEY_RSA, EVP_sha512()),
    }};
  }();
  for (const SignatureAlgorithm& a : *known) {
    if (!a.der.empty() && a.digest != nullptr && a.der == der) return &a;
  }
  return nullptr;
}

// The CN values of a subject Name, when every attribute value in it is a UTF8String,
// PrintableString or IA5String of printable ASCII (so the library parses and canonicalizes
// it, and converts each CN to the same text); false for any other Name.
bool ReadCommonNames(std::string_view name, std::vector<std::string_view>* common_names) {
  static const std::string_view common_name_oid = OidOf(NID_commonName);
  DerReader rdns(name);
  while (!rdns.empty()) {
    std::string_view rdn;
    if (!rdns.Read(kTagSet, &rdn) || rdn.empty()) return false;
    DerReader attributes(rdn);
    while (!attributes.empty()) {
      std::string_view attribute;
      std::string_view oid;
      std::string_view value;
      if (!attributes.Read(kTagSequence, &attribute)) return false;
      DerReader fields(attribute);
      const bool read = fields.Read(kTagOid, &oid) && WellFormedOid(oid) &&
                        (fields.next_tag() == kTagUtf8String ||
                         fields.next_tag() == kTagPrintableString ||
                         fields.next_tag() == kTagIa5String) &&
                        fields.Read(fields.next_tag(), &value) && fields.empty();
      if (!read || value.empty()) return false;
      for (char c : value) {
        if (c < 0x20 || c > 0x7E) return false;
      }
      if (!common_name_oid.empty() && oid == common_name_oid) common_names->push_back(value);
    }
  }
  return true;
}

struct OpenSslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};

// A key (`selection`: EVP_PKEY_PUBLIC_KEY or EVP_PKEY_KEY_PARAMETERS) from its parameters
// through the provider's key management, without the decoder chain; null (errors dropped)
// when the provider refuses them.
EvpPkeyPtr FromData(const char* type, int selection, OSSL_PARAM* params) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, selection, params) != 1) {
    EVP_PKEY_free(key);
    DrainErrors();
    return nullptr;
  }
  return EvpPkeyPtr(key);
}

// The domain parameters of a named curve as a key without key material; null when the
// provider does not offer the curve.
EVP_PKEY* CurveParameters(const char* group) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
      OSSL_PARAM_construct_end(),
  };
  return FromData("EC", EVP_PKEY_KEY_PARAMETERS, params).release();
}

// An EC key on `curve` with the given uncompressed point (from `pool` when it has one to
// spare); null when the point is not on the curve or the provider refuses it.
CsrKeyPtr EcKey(VerificationKeyPool::Curve curve, std::string_view point,
                VerificationKeyPool* pool) {
  // Domain parameters as keys without key material, made once per process: building an EC
  // group costs about as much as an ECDSA verify; duplicating one copies it. Never modified.
  static EVP_PKEY* const p256 = CurveParameters(SN_X9_62_prime256v1);
  static EVP_PKEY* const p384 = CurveParameters(SN_secp384r1);
  EVP_PKEY* parameters = curve == VerificationKeyPool::Curve::kP256 ? p256 : p384;
  if (parameters == nullptr) return nullptr;
  EVP_PKEY* key = pool != nullptr ? pool->Take(curve) : nullptr;
  if (key == nullptr) key = EVP_PKEY_dup(parameters);
  // EC_KEY_oct2key underneath, as in the library's decoder: a point off the curve is refused.
  // A key whose point could not be set is never given back.
  if (key == nullptr ||
      EVP_PKEY_set_octet_string_param(
          key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
          reinterpret_cast<unsigned char*>(const_cast<char*>(point.data())), point.size()) != 1) {
    EVP_PKEY_free(key);
    DrainErrors();
    return nullptr;
  }
  return CsrKeyPtr(key, CsrKeyRelease{pool, curve});
}

// A positive INTEGER in its shortest encoding, not zero: its magnitude; false otherwise.
bool ReadPositiveInteger(DerReader& reader, std::string_view* magnitude) {
  std::string_view value;
  if (!reader.Read(kTagInteger, &value) || value.empty()) return false;
  const unsigned char first = DerReader::Octet(value, 0);
  if ((first & 0x80) != 0) return false;
  if (first == 0) {
    if (value.size() == 1 || (DerReader::Octet(value, 1) & 0x80) == 0) return false;
    value.remove_prefix(1);
  }
  *magnitude = value;
  return true;
}

// An RSA key from a BIT STRING that is exactly one RSAPublicKey (RFC 8017 A.1.1) with a
// positive modulus and exponent; null otherwise.
CsrKeyPtr RsaKey(std::string_view bits) {
  DerReader outer(bits);
  std::string_view sequence;
  std::string_view n;
  std::string_view e;
  if (!outer.Read(kTagSequence, &sequence) || !outer.empty()) return nullptr;
  DerReader fields(sequence);
  if (!ReadPositiveInteger(fields, &n) || !ReadPositiveInteger(fields, &e) || !fields.empty()) {
    return nullptr;
  }
  auto bignum = [](std::string_view magnitude) {
    return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(magnitude.data()),
                               static_cast<int>(magnitude.size()), nullptr));
  };
  const BignumPtr modulus = bignum(n);
  const BignumPtr exponent = bignum(e);
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> build(OSSL_PARAM_BLD_new());
  if (modulus == nullptr || exponent == nullptr || build == nullptr ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
    DrainErrors();
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(build.get()));
  if (params == nullptr) {
    DrainErrors();
    return nullptr;
  }
  return CsrKeyPtr(FromData("RSA", EVP_PKEY_PUBLIC_KEY, params.get()).release());
}

}  // namespace

// A request read by this module: the shape the array's members and the openssl CLI produce,
// in DER. Views point into `der`.
struct ParsedCsr::Local {
  std::string der;
  std::string_view info;        // CertificationRequestInfo, as signed
  std::string_view key_info;    // SubjectPublicKeyInfo
  std::string_view key_bits;    // its BIT STRING's value after the unused-bits octet
  std::string_view signature;   // likewise
  std::string_view extensions;  // the extension request's SEQUENCE; empty when none
  std::vector<std::string_view> common_names;
  const KeyAlgorithm* key_algorithm = nullptr;
  const SignatureAlgorithm* signature_algorithm = nullptr;

  // Reads `der`; false leaves the request to the library's parser.
  bool Read();
};

bool ParsedCsr::Local::Read() {
  // CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm,
  //   signature BIT STRING }. Bytes after it are ignored, as by the library's reader.
  DerReader input(der);
  std::string_view request;
  if (!input.Read(kTagSequence, &request)) return false;
  DerReader fields(request);
  std::string_view info_fields;
  std::string_view signature_algorithm_der;
  std::string_view signature_bits;
  if (!fields.Read(kTagSequence, &info_fields, &info) ||
      !fields.Read(kTagSequence, nullptr, &signature_algorithm_der) ||
      !fields.Read(kTagBitString, &signature_bits) || !fields.empty()) {
    return false;
  }
  // CertificationRequestInfo ::= SEQUENCE { version INTEGER (0), subject Name,
  //   subjectPKInfo SubjectPublicKeyInfo, attributes [0] IMPLICIT SET OF Attribute }
  DerReader info_reader(info_fields);
  std::string_view version;
  std::string_view subject;
  std::string_view key_fields;
  if (!info_reader.Read(kTagInteger, &version) || version != std::string_view("\0", 1) ||
      !info_reader.Read(kTagSequence, &subject) || !ReadCommonNames(subject, &common_names) ||
      !info_reader.Read(kTagSequence, &key_fields, &key_info)) {
    return false;
  }
  std::string_view attributes;  // absent is taken, as by the library
  if (!info_reader.empty() && !info_reader.Read(kTagAttributes, &attributes)) return false;
  if (!info_reader.empty()) return false;

  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, BIT STRING }
  DerReader key_reader(key_fields);
  std::string_view key_algorithm_der;
  if (!key_reader.Read(kTagSequence, nullptr, &key_algorithm_der) ||
      !key_reader.Read(kTagBitString, &key_bits) || !key_reader.empty() || key_bits.empty() ||
      key_bits[0] != '\0') {
    return false;
  }
  key_bits.remove_prefix(1);
  key_algorithm = FindKeyAlgorithm(key_algorithm_der);
  if (key_algorithm == nullptr) return false;
  if (key_algorithm->key_type == EVP_PKEY_EC &&
      (key_bits.size() != key_algorithm->point_octets || key_bits[0] != '\x04')) {
    return false;
  }

  // Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY }, taken when every
  // value is a SEQUENCE (as an extension request's is: the library keeps those as received).
  struct FirstValue {
    std::string_view oid;
    std::string_view value;
  };
  std::vector<FirstValue> first_values;
  DerReader attribute_reader(attributes);
  while (!attribute_reader.empty()) {
    std::string_view attribute;
    std::string_view oid;
    std::string_view values;
    if (!attribute_reader.Read(kTagSequence, &attribute)) return false;
    DerReader attribute_fields(attribute);
    if (!attribute_fields.Read(kTagOid, &oid) || !WellFormedOid(oid) ||
        !attribute_fields.Read(kTagSet, &values) || !attribute_fields.empty() || values.empty()) {
      return false;
    }
    DerReader value_reader(values);
    FirstValue first{oid, {}};
    while (!value_reader.empty()) {
      std::string_view value;
      if (!value_reader.Read(kTagSequence, nullptr, &value)) return false;
      if (first.value.empty()) first.value = value;
    }
    first_values.push_back(first);
  }
  // X509_REQ_get_extensions: the first attribute of the library's extension-request types,
  // in the library's order, holds the extensions.
  const int* nids = X509_REQ_get_extension_nids();
  for (const int* nid = nids; nid != nullptr && *nid != NID_undef && extensions.empty(); ++nid) {
    const std::string_view oid = OidOf(*nid);
    for (const FirstValue& f : first_values) {
      if (!oid.empty() && f.oid == oid) {
        extensions = f.value;
        break;
      }
    }
  }

  signature_algorithm = FindSignatureAlgorithm(signature_algorithm_der);
  if (signature_algorithm == nullptr || signature_algorithm->key_type != key_algorithm->key_type ||
      signature_bits.empty() || signature_bits[0] != '\0') {
    return false;
  }
  signature = signature_bits.substr(1);
  return true;
}
#else
struct ParsedCsr::Local {};
#endif  // !OPENSSL_IS_BORINGSSL

void ParsedCsr::LocalFree::operator()(Local* p) const { delete p; }

VerificationKeyPool::~VerificationKeyPool() {
  for (auto& curve : slots_) {
    for (std::atomic<EVP_PKEY*>& slot : curve) EVP_PKEY_free(slot.exchange(nullptr));
  }
}

EVP_PKEY* VerificationKeyPool::Take(Curve curve) {
  for (std::atomic<EVP_PKEY*>& slot : slots_[static_cast<int>(curve)]) {
    if (slot.load(std::memory_order_relaxed) == nullptr) continue;
    if (EVP_PKEY* key = slot.exchange(nullptr, std::memory_order_acquire)) return key;
  }
  return nullptr;
}

void VerificationKeyPool::Give(Curve curve, EVP_PKEY* key) {
  for (std::atomic<EVP_PKEY*>& slot : slots_[static_cast<int>(curve)]) {
    EVP_PKEY* empty = nullptr;
    if (slot.compare_exchange_strong(empty, key, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      return;
    }
  }
  EVP_PKEY_free(key);
}

void CsrKeyRelease::operator()(EVP_PKEY* key) const {
  if (pool != nullptr) {
    pool->Give(curve, key);
  } else {
    EVP_PKEY_free(key);
  }
}

ParsedCsr::ParsedCsr() = default;
ParsedCsr::ParsedCsr(ParsedCsr&&) noexcept = default;
ParsedCsr& ParsedCsr::operator=(ParsedCsr&&) noexcept = default;
ParsedCsr::~ParsedCsr() = default;

absl::StatusOr<ParsedCsr> ParsedCsr::Parse(std::string_view pem, Parser parser,
                                           [[maybe_unused]] VerificationKeyPool* pool) {
  ParsedCsr csr;
  // PEM as the writers make it is decoded here; anything else goes through the library's PEM
  // reader, which decodes that form to the same bytes (so the outcome is the same either way).
  std::string canonical_der;
  const bool canonical =
      parser == Parser::kFast && DecodeCanonicalPem(pem, PEM_STRING_X509_REQ, canonical_der);
#if !defined(OPENSSL_IS_BORINGSSL)
  if (parser == Parser::kFast) {
    // PEM_read_bio_X509_REQ is PEM_bytes_read_bio, then d2i over the bytes: the same here,
    // with this module's reader first.
    auto local = std::make_unique<Local>();
    if (canonical) {
      local->der = std::move(canonical_der);
    } else {
      BioPtr bio = ReadBio(pem);
      if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
      unsigned char* raw = nullptr;
      long len = 0;  // NOLINT(runtime/int): the library's type
      if (PEM_bytes_read_bio(&raw, &len, nullptr, PEM_STRING_X509_REQ, bio.get(), nullptr,
                             nullptr) != 1) {
        return absl::InvalidArgumentError(DrainErrors());
      }
      const std::unique_ptr<unsigned char, OpenSslFree> read(raw);
      local->der.assign(reinterpret_cast<const char*>(raw), static_cast<std::size_t>(len));
    }
    if (local->Read()) {
      const KeyAlgorithm& algorithm = *local->key_algorithm;
      csr.public_key_ = algorithm.key_type == EVP_PKEY_EC
                            ? EcKey(algorithm.curve, local->key_bits, pool)
                            : RsaKey(local->key_bits);
      if (csr.public_key_ != nullptr) {
        csr.local_.reset(local.release());
        return csr;
      }
    }
    // Not a request this module reads: the library's own parse of the same bytes, with the
    // error PEM_read_bio_X509_REQ adds when its d2i fails.
    DrainErrors();
    const auto* p = reinterpret_cast<const unsigned char*>(local->der.data());
    csr.req_.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(local->der.size())));  // NOLINT
    if (csr.req_ == nullptr) {
      ERR_raise(ERR_LIB_PEM, ERR_R_ASN1_LIB);
      return absl::InvalidArgumentError(DrainErrors());
    }
  }
#else
  if (canonical) {
    // PEM_read_bio_X509_REQ is the PEM decode, then d2i_X509_REQ over the bytes. When the d2i
    // fails, the library's reader below repeats it and reports its own errors.
    const auto* p = reinterpret_cast<const unsigned char*>(canonical_der.data());
    csr.req_.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(canonical_der.size())));  // NOLINT
    if (csr.req_ == nullptr) DrainErrors();
  }
#endif
  if (csr.req_ == nullptr) {
    BioPtr bio = ReadBio(pem);
    if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
    csr.req_.reset(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
    if (csr.req_ == nullptr) return absl::InvalidArgumentError(DrainErrors());
  }
  // BoringSSL cannot even decode keys on curves it does not implement; the caller refuses a
  // null key as unusable.
  csr.public_key_.reset(X509_REQ_get_pubkey(csr.req_.get()));
  if (csr.public_key_ == nullptr) DrainErrors();
  return csr;
}

bool ParsedCsr::parsed_locally() const { return local_ != nullptr; }

std::vector<std::string> ParsedCsr::CommonNames() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) {
    return std::vector<std::string>(local_->common_names.begin(), local_->common_names.end());
  }
#endif
  std::vector<std::string> out;
  const X509_NAME* name = X509_REQ_get_subject_name(req_.get());
  for (int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) {
    out.push_back(Utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i))));
  }
  return out;
}

ExtensionStackPtr ParsedCsr::Extensions() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) {
    const std::string_view der = local_->extensions;
    if (der.empty()) return ExtensionStackPtr(sk_X509_EXTENSION_new_null());
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    return ExtensionStackPtr(reinterpret_cast<STACK_OF(X509_EXTENSION)*>(
        ASN1_item_d2i(nullptr, &p, static_cast<long>(der.size()),  // NOLINT(runtime/int)
                      ASN1_ITEM_rptr(X509_EXTENSIONS))));
  }
#endif
  return ExtensionStackPtr(X509_REQ_get_extensions(req_.get()));
}

#if defined(OPENSSL_IS_BORINGSSL)
namespace {
// BoringSSL: the request's own SubjectPublicKeyInfo when `key` is on P-256 or P-384 with an
// uncompressed point and the request's encoding of it is DER; null otherwise. It is read from
// i2d_X509_REQ, which writes the CertificationRequestInfo as received (i2d_re_X509_REQ_tbs
// would not do: it drops the kept encoding, and the signature check needs it). Those are the bytes X509_PUBKEY_set writes for the key — BoringSSL parses only
// named curves, coordinates below the field prime and BIT STRINGs without unused bits — but
// X509_PUBKEY_set gets them by encoding the point again, and that costs a field inversion
// (~8 % of an issuance).
X509PubkeyPtr ReceivedEcKeyInfo(X509_REQ* req, EVP_PKEY* key) {
  if (EVP_PKEY_id(key) != EVP_PKEY_EC) return nullptr;
  std::size_t point_len = 0;
  switch (EVP_PKEY_bits(key)) {
    case 256:
      point_len = 65;
      break;
    case 384:
      point_len = 97;
      break;
    default:
      return nullptr;
  }
  uint8_t* der = nullptr;
  const int der_len = i2d_X509_REQ(req, &der);
  if (der_len <= 0 || der == nullptr) {
    DrainErrors();
    return nullptr;
  }
  const std::unique_ptr<uint8_t, Deleter<void, OPENSSL_free>> owned(der);
  // CertificationRequest ::= SEQUENCE { CertificationRequestInfo ::= SEQUENCE { version
  //   INTEGER, subject Name, subjectPKInfo SubjectPublicKeyInfo, attributes [0] ... }, ... }
  // (CBS reads DER only: a request encoded otherwise takes the X509_PUBKEY_set path.)
  CBS cbs;
  CBS request;
  CBS info;
  CBS spki;
  CBS_init(&cbs, der, static_cast<std::size_t>(der_len));
  if (CBS_get_asn1(&cbs, &request, CBS_ASN1_SEQUENCE) != 1 ||
      CBS_get_asn1(&request, &info, CBS_ASN1_SEQUENCE) != 1 ||
      CBS_get_asn1(&info, nullptr, CBS_ASN1_INTEGER) != 1 ||
      CBS_get_asn1(&info, nullptr, CBS_ASN1_SEQUENCE) != 1 ||
      CBS_get_asn1_element(&info, &spki, CBS_ASN1_SEQUENCE) != 1) {
    return nullptr;
  }
  const uint8_t* p = CBS_data(&spki);
  X509PubkeyPtr pubkey(d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(CBS_len(&spki))));  // NOLINT
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  if (pubkey == nullptr ||
      X509_PUBKEY_get0_param(nullptr, &bits, &bits_len, nullptr, pubkey.get()) != 1 ||
      bits == nullptr || static_cast<std::size_t>(bits_len) != point_len || bits[0] != 0x04) {
    DrainErrors();
    return nullptr;
  }
  return pubkey;
}
}  // namespace
#endif

absl::Status ParsedCsr::PrepareKeyInfo() {
#if defined(OPENSSL_IS_BORINGSSL)
  // BoringSSL's X509_REQ offers no X509_REQ_get_X509_PUBKEY: the received key info for EC
  // keys (ReceivedEcKeyInfo), the key encoded by the library otherwise (cheap for RSA).
  if (encoded_key_ == nullptr) encoded_key_ = ReceivedEcKeyInfo(req_.get(), public_key_.get());
  if (encoded_key_ == nullptr) {
    X509_PUBKEY* raw = nullptr;
    if (X509_PUBKEY_set(&raw, public_key_.get()) != 1) {
      return absl::InternalError(absl::StrCat("cannot encode the CSR's key: ", DrainErrors()));
    }
    encoded_key_.reset(raw);
  }
#endif
  return absl::OkStatus();
}

namespace {
// The library's SubjectPublicKeyInfo of a request it parsed (after PrepareKeyInfo).
X509_PUBKEY* LibraryKeyInfo([[maybe_unused]] X509_REQ* req,
                            [[maybe_unused]] X509_PUBKEY* encoded_key) {
#if defined(OPENSSL_IS_BORINGSSL)
  return encoded_key;
#else
  return X509_REQ_get_X509_PUBKEY(req);
#endif
}
}  // namespace

KeyAssessment ParsedCsr::AssessKey() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) {
    return AssessPublicKey(local_->key_algorithm->algorithm.parsed, public_key_.get());
  }
#endif
  return AssessPublicKey(LibraryKeyInfo(req_.get(), encoded_key_.get()));
}

std::string ParsedCsr::KeyInfoDer() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  // DER as received: what i2d_X509_PUBKEY writes for the library's parse of it.
  if (local_ != nullptr) return std::string(local_->key_info);
#endif
  X509_PUBKEY* key_info = LibraryKeyInfo(req_.get(), encoded_key_.get());
  return key_info == nullptr ? std::string() : ToDer(key_info, i2d_X509_PUBKEY);
}

bool ParsedCsr::KeyBits(const unsigned char** data, int* length) const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) {
    *data = reinterpret_cast<const unsigned char*>(local_->key_bits.data());
    *length = static_cast<int>(local_->key_bits.size());
    return true;
  }
#endif
  X509_PUBKEY* key_info = LibraryKeyInfo(req_.get(), encoded_key_.get());
  return key_info != nullptr &&
         X509_PUBKEY_get0_param(nullptr, data, length, nullptr, key_info) == 1 &&
         *data != nullptr;
}

int ParsedCsr::signature_nid() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) return local_->signature_algorithm->nid;
#endif
  return X509_REQ_get_signature_nid(req_.get());
}

int ParsedCsr::VerifySignature() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) {
    // What X509_REQ_verify does for these algorithms, without its per-call digest lookup by
    // name: the signature over the CertificationRequestInfo as received, with the digest
    // fetched once per process. Its results: 1, or EVP_DigestVerify's 0/-1 with
    // ERR_R_EVP_LIB queued.
    const Local& r = *local_;
    std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
    if (ctx == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, r.signature_algorithm->digest,
                                               nullptr, public_key_.get()) != 1) {
      ERR_raise(ERR_LIB_ASN1, ERR_R_EVP_LIB);
      return -1;
    }
    const int ret = EVP_DigestVerify(
        ctx.get(), reinterpret_cast<const unsigned char*>(r.signature.data()), r.signature.size(),
        reinterpret_cast<const unsigned char*>(r.info.data()), r.info.size());
    if (ret <= 0) {
      ERR_raise(ERR_LIB_ASN1, ERR_R_EVP_LIB);
      return ret;
    }
    return 1;
  }
#endif
  return X509_REQ_verify(req_.get(), public_key_.get());
}

}  // namespace arraykit::pki::internal
