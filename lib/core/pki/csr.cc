#include "core/pki/csr.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#if defined(OPENSSL_IS_BORINGSSL)
#include <openssl/bytestring.h>
#else
#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#endif

#include <utility>

#include "absl/strings/str_cat.h"

namespace arraykit::pki::internal {

#if !defined(OPENSSL_IS_BORINGSSL)
namespace {

// ---- the local ASN.1 templates (RFC 2986 §4) ---------------------------------------------------
//
// The same structure as the library's X509_REQ, item for item (X509_NAME, X509_ALGOR,
// X509_ATTRIBUTE and the primitive types are the library's own items), except that the
// SubjectPublicKeyInfo is a plain SEQUENCE: nothing is decoded while parsing.

// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
struct CsrKeyInfo {
  X509_ALGOR* algorithm;
  ASN1_BIT_STRING* public_key;
};

// CertificationRequestInfo ::= SEQUENCE { version INTEGER, subject Name,
//   subjectPKInfo SubjectPublicKeyInfo, attributes [0] IMPLICIT SET OF Attribute }
// `encoding` keeps the bytes as received (ASN1_AFLG_ENCODING, as the library's X509_REQ_INFO),
// so the signature is checked over exactly what the member signed.
struct CsrRequestInfo {
  ASN1_ENCODING encoding;
  ASN1_INTEGER* version;
  X509_NAME* subject;
  CsrKeyInfo* key_info;
  STACK_OF(X509_ATTRIBUTE) * attributes;  // null when absent (the library accepts that too)
};

// CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature }
struct CsrRequest {
  CsrRequestInfo* info;
  X509_ALGOR* signature_algorithm;
  ASN1_BIT_STRING* signature;
};

// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 A.1.1), with
// the library's BIGNUM item as its own RSAPublicKey template uses.
struct CsrRsaKey {
  BIGNUM* n;
  BIGNUM* e;
};

ASN1_SEQUENCE(CsrKeyInfo) = {
    ASN1_SIMPLE(CsrKeyInfo, algorithm, X509_ALGOR),
    ASN1_SIMPLE(CsrKeyInfo, public_key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CsrKeyInfo)

ASN1_SEQUENCE_enc(CsrRequestInfo, encoding, nullptr) = {
    ASN1_SIMPLE(CsrRequestInfo, version, ASN1_INTEGER),
    ASN1_SIMPLE(CsrRequestInfo, subject, X509_NAME),
    ASN1_SIMPLE(CsrRequestInfo, key_info, CsrKeyInfo),
    // Not OPTIONAL in RFC 2986, but the library accepts requests without it.
    ASN1_IMP_SET_OF_OPT(CsrRequestInfo, attributes, X509_ATTRIBUTE, 0),
} ASN1_SEQUENCE_END_enc(CsrRequestInfo, CsrRequestInfo)

ASN1_SEQUENCE(CsrRequest) = {
    ASN1_SIMPLE(CsrRequest, info, CsrRequestInfo),
    ASN1_SIMPLE(CsrRequest, signature_algorithm, X509_ALGOR),
    ASN1_SIMPLE(CsrRequest, signature, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CsrRequest)

ASN1_SEQUENCE(CsrRsaKey) = {
    ASN1_SIMPLE(CsrRsaKey, n, BIGNUM),
    ASN1_SIMPLE(CsrRsaKey, e, BIGNUM),
} ASN1_SEQUENCE_END(CsrRsaKey)

template <typename T>
struct ItemFree {
  const ASN1_ITEM* (*item)();
  void operator()(T* p) const { ASN1_item_free(reinterpret_cast<ASN1_VALUE*>(p), item()); }
};

struct OpenSslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};

struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};

template <typename T>
T* ItemD2i(const ASN1_ITEM* item, const unsigned char** p, long len) {  // NOLINT(runtime/int)
  return reinterpret_cast<T*>(ASN1_item_d2i(nullptr, p, len, item));
}

// A public key from its parameters through the provider's key management, without the
// decoder chain; null (errors dropped) when the provider refuses them.
EvpPkeyPtr FromData(const char* type, OSSL_PARAM* params) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    EVP_PKEY_free(key);
    DrainErrors();
    return nullptr;
  }
  return EvpPkeyPtr(key);
}

// The domain parameters of a named curve as a key without key material, made once per process:
// building an EC group (Montgomery constants, inverses) costs about as much as an ECDSA
// verify, duplicating one copies them. Null when the provider does not offer the curve.
EVP_PKEY* CurveParameters(const char* group) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
      OSSL_PARAM_construct_end(),
  };
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
    EVP_PKEY_free(key);
    DrainErrors();
    return nullptr;
  }
  return key;
}

// An EC key on P-256 or P-384 named by its OID, its point uncompressed. Anything else: null.
EvpPkeyPtr EcKey(int param_type, const void* param, const unsigned char* point, int point_len) {
  if (param_type != V_ASN1_OBJECT || param == nullptr) return nullptr;
  // Shared and never modified: each key is a copy that then receives its point.
  static EVP_PKEY* const p256 = CurveParameters(SN_X9_62_prime256v1);
  static EVP_PKEY* const p384 = CurveParameters(SN_secp384r1);
  EVP_PKEY* parameters = nullptr;
  int field_octets = 0;
  switch (OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(param))) {
    case NID_X9_62_prime256v1:
      parameters = p256;
      field_octets = 32;
      break;
    case NID_secp384r1:
      parameters = p384;
      field_octets = 48;
      break;
    default:
      return nullptr;
  }
  if (parameters == nullptr || point_len != 1 + 2 * field_octets || point[0] != 0x04) {
    return nullptr;
  }
  // EC_KEY_oct2key underneath, as in the library's decoder: a point off the curve is refused.
  EvpPkeyPtr key(EVP_PKEY_dup(parameters));
  if (key == nullptr ||
      EVP_PKEY_set_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                      const_cast<unsigned char*>(point),
                                      static_cast<std::size_t>(point_len)) != 1) {
    DrainErrors();
    return nullptr;
  }
  return key;
}

// An rsaEncryption key (parameters NULL or absent) whose BIT STRING is exactly one
// RSAPublicKey with a non-zero modulus and exponent. Anything else: null.
EvpPkeyPtr RsaKey(int param_type, const unsigned char* der, int der_len) {
  if (param_type != V_ASN1_NULL && param_type != V_ASN1_UNDEF) return nullptr;
  const unsigned char* p = der;
  std::unique_ptr<CsrRsaKey, ItemFree<CsrRsaKey>> rsa(
      ItemD2i<CsrRsaKey>(CsrRsaKey_it(), &p, der_len), ItemFree<CsrRsaKey>{CsrRsaKey_it});
  if (rsa == nullptr || p != der + der_len || rsa->n == nullptr || rsa->e == nullptr ||
      BN_is_zero(rsa->n) || BN_is_zero(rsa->e)) {
    DrainErrors();
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> build(OSSL_PARAM_BLD_new());
  if (build == nullptr || OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, rsa->n) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, rsa->e) != 1) {
    DrainErrors();
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(build.get()));
  if (params == nullptr) {
    DrainErrors();
    return nullptr;
  }
  return FromData("RSA", params.get());
}

// The verification key for the keys the array accepts; null for anything the library should
// judge itself. `key_type` receives EVP_PKEY_EC or EVP_PKEY_RSA with a key.
EvpPkeyPtr KeyFromInfo(const CsrKeyInfo* key_info, int* key_type) {
  const ASN1_OBJECT* algorithm = nullptr;
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(&algorithm, &param_type, &param, key_info->algorithm);
  const ASN1_BIT_STRING* bits = key_info->public_key;
  // A BIT STRING claiming unused bits is left to the library (it ignores the count).
  if (algorithm == nullptr || bits == nullptr || (bits->flags & 0x07) != 0 ||
      ASN1_STRING_length(bits) <= 0) {
    return nullptr;
  }
  const unsigned char* data = ASN1_STRING_get0_data(bits);
  const int len = ASN1_STRING_length(bits);
  switch (OBJ_obj2nid(algorithm)) {
    case NID_X9_62_id_ecPublicKey:
      *key_type = EVP_PKEY_EC;
      return EcKey(param_type, param, data, len);
    case NID_rsaEncryption:
      *key_type = EVP_PKEY_RSA;
      return RsaKey(param_type, data, len);
    default:
      return nullptr;
  }
}

// The digest of a signature algorithm this module verifies itself for a key of `key_type`:
// ECDSA or PKCS#1 v1.5 with SHA-256/384/512 on the matching key. Null for anything else
// (other algorithms, a key of the other type), which ASN1_item_verify judges.
const EVP_MD* DirectVerifyDigest(int signature_nid, int key_type) {
  switch (signature_nid) {
    case NID_ecdsa_with_SHA256:
      return key_type == EVP_PKEY_EC ? PrefetchedDigest(EVP_sha256()) : nullptr;
    case NID_ecdsa_with_SHA384:
      return key_type == EVP_PKEY_EC ? PrefetchedDigest(EVP_sha384()) : nullptr;
    case NID_ecdsa_with_SHA512:
      return key_type == EVP_PKEY_EC ? PrefetchedDigest(EVP_sha512()) : nullptr;
    case NID_sha256WithRSAEncryption:
      return key_type == EVP_PKEY_RSA ? PrefetchedDigest(EVP_sha256()) : nullptr;
    case NID_sha384WithRSAEncryption:
      return key_type == EVP_PKEY_RSA ? PrefetchedDigest(EVP_sha384()) : nullptr;
    case NID_sha512WithRSAEncryption:
      return key_type == EVP_PKEY_RSA ? PrefetchedDigest(EVP_sha512()) : nullptr;
    default:
      return nullptr;
  }
}

}  // namespace

struct ParsedCsr::Local {
  std::unique_ptr<CsrRequest, ItemFree<CsrRequest>> request{nullptr,
                                                            ItemFree<CsrRequest>{CsrRequest_it}};
  int key_type = EVP_PKEY_NONE;  // of the verification key: EVP_PKEY_EC or EVP_PKEY_RSA
};
#else
struct ParsedCsr::Local {};
#endif  // !OPENSSL_IS_BORINGSSL

void ParsedCsr::LocalFree::operator()(Local* p) const { delete p; }

ParsedCsr::ParsedCsr() = default;
ParsedCsr::ParsedCsr(ParsedCsr&&) noexcept = default;
ParsedCsr& ParsedCsr::operator=(ParsedCsr&&) noexcept = default;
ParsedCsr::~ParsedCsr() = default;

absl::StatusOr<ParsedCsr> ParsedCsr::Parse(std::string_view pem, Parser parser) {
  ParsedCsr csr;
  // PEM as the writers make it is decoded here; anything else goes through the library's PEM
  // reader, which decodes that form to the same bytes (so the outcome is the same either way).
  std::string canonical_der;
  const bool canonical =
      parser == Parser::kFast && DecodeCanonicalPem(pem, PEM_STRING_X509_REQ, canonical_der);
#if !defined(OPENSSL_IS_BORINGSSL)
  if (parser == Parser::kFast) {
    // PEM_read_bio_X509_REQ is PEM_bytes_read_bio, then d2i over the bytes: the same here,
    // with the local template first.
    std::unique_ptr<unsigned char, OpenSslFree> read;
    const unsigned char* der = reinterpret_cast<const unsigned char*>(canonical_der.data());
    long len = static_cast<long>(canonical_der.size());  // NOLINT(runtime/int): the library's
    if (!canonical) {
      BioPtr bio = ReadBio(pem);
      if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
      unsigned char* raw = nullptr;
      if (PEM_bytes_read_bio(&raw, &len, nullptr, PEM_STRING_X509_REQ, bio.get(), nullptr,
                             nullptr) != 1) {
        return absl::InvalidArgumentError(DrainErrors());
      }
      read.reset(raw);
      der = raw;
    }
    const unsigned char* p = der;
    auto local = std::make_unique<Local>();
    local->request.reset(ItemD2i<CsrRequest>(CsrRequest_it(), &p, len));
    if (local->request != nullptr) {
      csr.public_key_ = KeyFromInfo(local->request->info->key_info, &local->key_type);
      if (csr.public_key_ != nullptr) {
        csr.local_.reset(local.release());
        return csr;
      }
    }
    // Not a request the local path handles: the library's own parse of the same bytes, with
    // the error PEM_read_bio_X509_REQ adds when its d2i fails.
    DrainErrors();
    p = der;
    csr.req_.reset(d2i_X509_REQ(nullptr, &p, len));
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

const X509_NAME* ParsedCsr::subject() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) return local_->request->info->subject;
#endif
  return X509_REQ_get_subject_name(req_.get());
}

ExtensionStackPtr ParsedCsr::Extensions() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) {
    // X509_REQ_get_extensions (OpenSSL 3.0) over the parsed attributes: the first attribute of
    // the library's extension-request types, in the library's order, holds the extensions.
    const STACK_OF(X509_ATTRIBUTE)* attributes = local_->request->info->attributes;
    const int* nids = X509_REQ_get_extension_nids();
    if (nids == nullptr) return nullptr;
    ASN1_TYPE* value = nullptr;
    for (const int* nid = nids; *nid != NID_undef; ++nid) {
      const int index = X509at_get_attr_by_NID(attributes, *nid, -1);
      if (index == -1) continue;
      value = X509_ATTRIBUTE_get0_type(X509at_get_attr(attributes, index), 0);
      break;
    }
    if (value == nullptr) return ExtensionStackPtr(sk_X509_EXTENSION_new_null());
    if (value->type != V_ASN1_SEQUENCE) return nullptr;
    const unsigned char* p = value->value.sequence->data;
    return ExtensionStackPtr(reinterpret_cast<STACK_OF(X509_EXTENSION)*>(ASN1_item_d2i(
        nullptr, &p, value->value.sequence->length, ASN1_ITEM_rptr(X509_EXTENSIONS))));
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
    return AssessPublicKey(local_->request->info->key_info->algorithm, public_key_.get());
  }
#endif
  return AssessPublicKey(LibraryKeyInfo(req_.get(), encoded_key_.get()));
}

std::string ParsedCsr::KeyInfoDer() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) {
    // Re-encoded from the parsed fields by the same items X509_PUBKEY uses: the same bytes
    // i2d_X509_PUBKEY gives for the library's parse.
    return ToDer(local_->request->info->key_info, [](CsrKeyInfo* key_info, unsigned char** out) {
      return ASN1_item_i2d(reinterpret_cast<ASN1_VALUE*>(key_info), out, CsrKeyInfo_it());
    });
  }
#endif
  X509_PUBKEY* key_info = LibraryKeyInfo(req_.get(), encoded_key_.get());
  return key_info == nullptr ? std::string() : ToDer(key_info, i2d_X509_PUBKEY);
}

bool ParsedCsr::KeyBits(const unsigned char** data, int* length) const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) {
    const ASN1_BIT_STRING* bits = local_->request->info->key_info->public_key;
    *data = ASN1_STRING_get0_data(bits);
    *length = ASN1_STRING_length(bits);
    return *data != nullptr;
  }
#endif
  X509_PUBKEY* key_info = LibraryKeyInfo(req_.get(), encoded_key_.get());
  return key_info != nullptr &&
         X509_PUBKEY_get0_param(nullptr, data, length, nullptr, key_info) == 1 &&
         *data != nullptr;
}

int ParsedCsr::signature_nid() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) {
    const ASN1_OBJECT* algorithm = nullptr;
    X509_ALGOR_get0(&algorithm, nullptr, nullptr, local_->request->signature_algorithm);
    return OBJ_obj2nid(algorithm);
  }
#endif
  return X509_REQ_get_signature_nid(req_.get());
}

int ParsedCsr::VerifySignature() const {
#if !defined(OPENSSL_IS_BORINGSSL)
  if (local_ != nullptr) {
    const CsrRequest& r = *local_->request;
    // What ASN1_item_verify does for the algorithms the array accepts, without its per-call
    // digest lookup by name: the CertificationRequestInfo's bytes as received (its kept
    // encoding), the digest fetched once per process. Everything else (other algorithms, a
    // key of the other type, unused bits in the signature, an encoding not kept) is
    // ASN1_item_verify's, whose results these mirror: 1, or EVP_DigestVerify's 0/-1 with
    // ERR_R_EVP_LIB queued.
    const ASN1_OBJECT* algorithm = nullptr;
    X509_ALGOR_get0(&algorithm, nullptr, nullptr, r.signature_algorithm);
    const EVP_MD* digest = DirectVerifyDigest(OBJ_obj2nid(algorithm), local_->key_type);
    const ASN1_ENCODING& enc = r.info->encoding;
    if (digest != nullptr && (r.signature->flags & 0x07) == 0 && enc.enc != nullptr &&
        enc.len > 0 && enc.modified == 0) {
      std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
      if (ctx != nullptr &&
          EVP_DigestVerifyInit(ctx.get(), nullptr, digest, nullptr, public_key_.get()) == 1) {
        const int ret = EVP_DigestVerify(
            ctx.get(), r.signature->data, static_cast<std::size_t>(r.signature->length),
            enc.enc, static_cast<std::size_t>(enc.len));
        if (ret <= 0) {
          ERR_raise(ERR_LIB_ASN1, ERR_R_EVP_LIB);
          return ret;
        }
        return 1;
      }
      DrainErrors();  // not expected for these keys; the library's own path decides
    }
    // X509_REQ_verify for the library's X509_REQ_INFO: the info is re-encoded from its kept
    // encoding, so the digest covers the bytes as received.
    return ASN1_item_verify(CsrRequestInfo_it(), r.signature_algorithm, r.signature, r.info,
                            public_key_.get());
  }
#endif
  return X509_REQ_verify(req_.get(), public_key_.get());
}

}  // namespace arraykit::pki::internal
