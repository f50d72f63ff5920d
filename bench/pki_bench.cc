// PKI costs beside the raw primitives they are built from, measured in the same run. The goals
// (docs/PERFORMANCE.md): a CSR signed in at most 1 ms (p50, through the C ABI: capi_bench's
// BM_SignCsrWithHandle) and a 10-member ECDSA CA rotation in at most 20 ms of CPU (BM_CaRotation10).
//
//   cmake --build BUILD --target pki_bench && BUILD/bench/pki_bench
//
// Raw primitives use EVP directly, as a caller would for a single operation (a fresh context
// per call), to show what issuance is made of: the library's CSR parse (BM_RawParseCsr), the
// proof-of-possession verify and the certificate's signature.
#include <benchmark/benchmark.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <time.h>

#include <memory>
#include <string>
#include <vector>

#include "core/model/array.h"
#include "core/pki/ossl.h"
#include "core/pki/pki.h"
#include "core/pki/rotation.h"
#include "core/pki/truststore.h"
#include "core/pki/verify.h"
#include "simulated_array_pki.h"

namespace arraykit::pki {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

KeyType TypeOf(const benchmark::State& state) {
  return state.range(0) == 0 ? KeyType::kEcdsaP256 : KeyType::kRsa2048;
}

Pkey RawKeygen(KeyType type) {
  const bool ec = type == KeyType::kEcdsaP256;
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(
      EVP_PKEY_CTX_new_id(ec ? EVP_PKEY_EC : EVP_PKEY_RSA, nullptr));
  EVP_PKEY_keygen_init(ctx.get());
  if (ec) {
    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1);
  } else {
    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048);
  }
  EVP_PKEY* key = nullptr;
  EVP_PKEY_keygen(ctx.get(), &key);
  return Pkey(key);
}

// A message the size of a peer certificate's TBSCertificate.
const std::vector<unsigned char>& Message() {
  static const std::vector<unsigned char> tbs(420, 0x5a);
  return tbs;
}

std::vector<unsigned char> RawSign(EVP_PKEY* key) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key);
  std::size_t len = 0;
  EVP_DigestSign(ctx.get(), nullptr, &len, Message().data(), Message().size());
  std::vector<unsigned char> sig(len);
  EVP_DigestSign(ctx.get(), sig.data(), &len, Message().data(), Message().size());
  sig.resize(len);
  return sig;
}

bool RawVerify(EVP_PKEY* key, const std::vector<unsigned char>& sig) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key);
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), Message().data(), Message().size()) ==
         1;
}

CertificateAuthority MakeCa(KeyType type) {
  CaOptions options;
  options.key_type = type;
  return *CertificateAuthority::Create(options, kNow);
}

PeerCertificateOptions Members() {
  PeerCertificateOptions o;
  o.member_names = {"boston.example.com", "newyork.example.com"};
  return o;
}

// ---- raw primitives ----------------------------------------------------------------------------

void BM_RawKeygen(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(RawKeygen(TypeOf(state)));
  state.SetLabel(std::string(ToString(TypeOf(state))));
}
BENCHMARK(BM_RawKeygen)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_RawSign(benchmark::State& state) {
  Pkey key = RawKeygen(TypeOf(state));
  for (auto _ : state) benchmark::DoNotOptimize(RawSign(key.get()));
  state.SetLabel(std::string(ToString(TypeOf(state))));
}
BENCHMARK(BM_RawSign)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_RawVerify(benchmark::State& state) {
  Pkey key = RawKeygen(TypeOf(state));
  const std::vector<unsigned char> sig = RawSign(key.get());
  for (auto _ : state) benchmark::DoNotOptimize(RawVerify(key.get(), sig));
  state.SetLabel(std::string(ToString(TypeOf(state))));
}
BENCHMARK(BM_RawVerify)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The floor of a whole enrollment: member keygen, CSR signature, its verification, cert sign.
void BM_RawKeygenPlusSigns(benchmark::State& state) {
  Pkey ca = RawKeygen(TypeOf(state));
  for (auto _ : state) {
    Pkey member = RawKeygen(TypeOf(state));
    const std::vector<unsigned char> csr_sig = RawSign(member.get());
    benchmark::DoNotOptimize(RawVerify(member.get(), csr_sig));
    benchmark::DoNotOptimize(RawSign(ca.get()));
  }
  state.SetLabel(std::string(ToString(TypeOf(state))));
}
BENCHMARK(BM_RawKeygenPlusSigns)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Parsing a member's CSR with the library (PEM, DER, its key decoded), as issuance must: not a
// signature primitive, but no issuer can skip it. On OpenSSL 3.0 the key decode goes through a
// provider decoder lookup that costs more than the ECDSA verify.
void BM_RawParseCsr(benchmark::State& state) {
  const KeyType type = TypeOf(state);
  absl::StatusOr<SecretString> key = GeneratePrivateKey(type);
  const std::string csr = *CreateCsr(key->view(), "boston.example.com");
  for (auto _ : state) {
    BIO* bio = BIO_new_mem_buf(csr.data(), static_cast<int>(csr.size()));
    X509_REQ* req = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
    if (req == nullptr) state.SkipWithError("CSR parse failed");
    benchmark::DoNotOptimize(req);
    X509_REQ_free(req);
    BIO_free(bio);
  }
  state.SetLabel(std::string(ToString(type)));
}
BENCHMARK(BM_RawParseCsr)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// ---- the module --------------------------------------------------------------------------------

// CA side: a member's CSR (PEM) in, a peer certificate (PEM) out.
void BM_IssuePeerCertificate(benchmark::State& state) {
  const KeyType type = TypeOf(state);
  CertificateAuthority ca = MakeCa(type);
  absl::StatusOr<SecretString> key = GeneratePrivateKey(type);
  const std::string csr = *CreateCsr(key->view(), "boston.example.com");
  const PeerCertificateOptions members = Members();
  for (auto _ : state) {
    absl::StatusOr<std::string> cert = ca.SignPeerCsr(csr, members, kNow);
    if (!cert.ok()) state.SkipWithError("issuance failed");
    benchmark::DoNotOptimize(cert);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(ToString(type)));
}
BENCHMARK(BM_IssuePeerCertificate)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Member and CA: key generation, CSR, issuance.
void BM_EnrollMember(benchmark::State& state) {
  const KeyType type = TypeOf(state);
  CertificateAuthority ca = MakeCa(type);
  const PeerCertificateOptions members = Members();
  for (auto _ : state) {
    absl::StatusOr<SecretString> key = GeneratePrivateKey(type);
    absl::StatusOr<std::string> csr = CreateCsr(key->view(), "boston.example.com");
    absl::StatusOr<std::string> cert = ca.SignPeerCsr(*csr, members, kNow);
    if (!cert.ok()) state.SkipWithError("enrollment failed");
    benchmark::DoNotOptimize(cert);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(ToString(type)));
}
BENCHMARK(BM_EnrollMember)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_VerifyPeerCertificate(benchmark::State& state) {
  const KeyType type = TypeOf(state);
  CertificateAuthority ca = MakeCa(type);
  absl::StatusOr<SecretString> key = GeneratePrivateKey(type);
  const std::string cert =
      *ca.SignPeerCsr(*CreateCsr(key->view(), "boston.example.com"), Members(), kNow);
  Truststore trust;
  (void)trust.Add(ca.certificate_pem());
  VerifyOptions options;
  options.expected_name = "boston.example.com";
  options.at = kNow;
  for (auto _ : state) {
    VerificationResult r = VerifyPeerCertificate(cert, trust, options);
    if (!r.valid) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(ToString(type)));
}
BENCHMARK(BM_VerifyPeerCertificate)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

model::Array TenMembers() {
  model::Array array;
  for (int i = 0; i < 10; ++i) {
    model::Member m;
    m.name = "member" + std::to_string(i) + ".example.com";
    array.members.push_back(m);
  }
  array.primary = array.members[0].name;
  return array;
}

// make_primary on a 10-member ECDSA array: new CA, rollover, 10 reissues, old CA dropped —
// every step of the plan applied to every member's in-memory store.
void BM_CaRotation10(benchmark::State& state) {
  const model::Array array = TenMembers();
  const RotationPlan plan = *PlanNewPrimary(array, "member3.example.com");
  for (auto _ : state) {
    state.PauseTiming();
    absl::StatusOr<SimulatedArrayPki> sim = SimulatedArrayPki::Create(array, {}, kNow);
    state.ResumeTiming();
    for (const RotationStep& step : plan.steps) {
      if (!sim->Apply(step, kNow).ok()) state.SkipWithError("rotation step failed");
    }
  }
  state.SetLabel("ecdsa-p256, 10 members, " + std::to_string(plan.steps.size()) + " steps");
}
BENCHMARK(BM_CaRotation10)->Unit(benchmark::kMillisecond);

// Its floor: 11 key generations (CA + 10 members), 10 CSR verifications, 21 signatures
// (CA self-signature, 10 CSRs, 10 certificates).
void BM_RawCaRotation10(benchmark::State& state) {
  for (auto _ : state) {
    Pkey ca = RawKeygen(KeyType::kEcdsaP256);
    benchmark::DoNotOptimize(RawSign(ca.get()));
    for (int i = 0; i < 10; ++i) {
      Pkey member = RawKeygen(KeyType::kEcdsaP256);
      const std::vector<unsigned char> csr_sig = RawSign(member.get());
      benchmark::DoNotOptimize(RawVerify(member.get(), csr_sig));
      benchmark::DoNotOptimize(RawSign(ca.get()));
    }
  }
  state.SetLabel("ecdsa-p256, 10 members");
}
BENCHMARK(BM_RawCaRotation10)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace arraykit::pki
