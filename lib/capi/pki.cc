// C ABI: the array's PKI (translation only; the rules live in core/pki). JSON options in, JSON
// documents out; private keys travel only through their own out-parameter and are released with
// ak_free_secret(), which wipes them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "arraykit/arraykit.h"
#include "capi/guard.h"
#include "core/model/array.h"
#include "core/model/array_json.h"
#include "core/model/json_reader.h"
#include "core/pki/pki.h"
#include "core/pki/rotation.h"
#include "core/pki/secret.h"
#include "core/pki/tls_policy.h"
#include "core/pki/truststore.h"
#include "core/pki/verify.h"
#include "core/status.h"

namespace arraykit::capi {
namespace {

using nlohmann::json;
namespace ji = model::json_internal;

// Limits on the options documents (DESIGN.md §9: a limit on everything).
constexpr std::size_t kMaxNameBytes = 254;       // 253 + an optional trailing dot
constexpr std::size_t kMaxCommonNameBytes = 64;  // X.509 ub-common-name
constexpr std::size_t kMaxMemberNames = 10;  // an array has at most 10 members
constexpr std::size_t kMaxRevokedSerials = 4096;
constexpr std::size_t kMaxSerialBytes = 128;
constexpr std::size_t kMaxPemBytes = 64 * 1024;
constexpr std::size_t kMaxPemInputBytes = 1024 * 1024;
constexpr std::size_t kMaxSuites = 64;
constexpr std::size_t kMaxSuiteNameBytes = 128;
constexpr std::size_t kMaxCertificateValidities = 100;
constexpr std::int64_t kMaxLifetimeDays = 365 * 30;  // pki::kMaxLifetime
constexpr std::int64_t kDefaultCaLifetimeDays = 365 * 5;
constexpr std::int64_t kDefaultPeerLifetimeDays = 90;

constexpr std::string_view kBeginCertificate = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEndCertificate = "-----END CERTIFICATE-----";

// Debian's absl::string_view is not std::string_view (TOOLCHAIN.md).
std::string_view StdView(absl::string_view text) { return {text.data(), text.size()}; }


// `status` with its message prefixed; its reason (and any other payload) is kept.
absl::Status Prefixed(std::string_view prefix, const absl::Status& status) {
  absl::Status out(status.code(), absl::StrCat(ji::AbslView(prefix), ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

// Defence in depth for "keys are never in a message": if a message would carry a PEM key
// marker or any run of the key's base64 body, it is replaced. The core never builds such a
// message; this keeps a future change from leaking one through the C boundary.
bool CarriesKeyMaterial(std::string_view message, std::string_view key_pem) {
  if (message.find("PRIVATE KEY") != std::string_view::npos) return true;
  constexpr std::size_t kWindow = 16;
  std::size_t line_start = 0;
  while (line_start < key_pem.size()) {
    std::size_t line_end = key_pem.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = key_pem.size();
    std::string_view line = key_pem.substr(line_start, line_end - line_start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.rfind("-----", 0) != 0) {
      for (std::size_t i = 0; i + kWindow <= line.size(); i += kWindow / 2) {
        if (message.find(line.substr(i, kWindow)) != std::string_view::npos) return true;
      }
    }
    line_start = line_end + 1;
  }
  return false;
}

absl::Status WithoutKeyMaterial(absl::Status status, std::string_view key_pem = {}) {
  if (status.ok()) return status;
  const std::string_view message = StdView(status.message());
  if (!CarriesKeyMaterial(message, key_pem)) return status;
  // Keep the field path ("request.name: ...") when it is clean, so the caller still learns
  // which input was wrong.
  std::string_view field;
  if (const std::size_t colon = message.find(": ");
      colon != std::string_view::npos && colon < 128) {
    field = message.substr(0, colon);
    if (CarriesKeyMaterial(field, key_pem)) field = {};
  }
  absl::Status withheld(
      status.code(),
      absl::StrCat(ji::AbslView(field), field.empty() ? "" : ": ",
                   "the details were withheld because they would contain key material"));
  return WithReason(withheld, ReasonOf(status));
}

// A NUL-terminated copy of key material for the caller, released with ak_free_secret().
absl::Status ReturnSecret(char** out, const pki::SecretString& secret) {
  const std::string_view text = secret.view();
  char* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (copy == nullptr) return absl::ResourceExhaustedError("out of memory");
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  *out = copy;
  return absl::OkStatus();
}

// Returns a JSON document and a key through two out-parameters: both or neither.
absl::Status ReturnDocumentAndKey(char** out_json, const json& doc, int indent, char** out_key,
                                  const pki::SecretString& key) {
  if (absl::Status s = ReturnString(out_json, DumpJson(doc, indent)); !s.ok()) return s;
  if (absl::Status s = ReturnSecret(out_key, key); !s.ok()) {
    ak_free(*out_json);
    *out_json = nullptr;
    return s;
  }
  return absl::OkStatus();
}

absl::Status DistinctOuts(char** a, const char* a_name, char** b, const char* b_name) {
  if (a == b) {
    return absl::InvalidArgumentError(absl::StrCat(b_name, " must differ from ", a_name));
  }
  return absl::OkStatus();
}

// An options document: a JSON object holding only `known` fields (a typo is `unknown_field`
// naming the nearest known one, never silently ignored); NULL means "{}" when `optional`.
absl::StatusOr<json> ParseObject(const char* text, std::string_view what, bool optional,
                                 std::initializer_list<std::string_view> known) {
  if (text == nullptr) {
    if (optional) return json::object();
    return absl::InvalidArgumentError(absl::StrCat(ji::AbslView(what), " must not be NULL"));
  }
  absl::StatusOr<json> doc = model::ParseJsonDocument(text, what);
  if (!doc.ok()) return doc.status();
  if (absl::Status s = ji::ExpectObjectWith(*doc, what, known); !s.ok()) return s;
  return doc;
}

absl::StatusOr<absl::Time> ReadTime(const json& value, std::string_view path) {
  return ji::ReadRfc3339(value, path);
}

// Optional time `key` of `object`; absent means the wall clock now.
absl::StatusOr<absl::Time> ReadTimeOrNow(const json& object, std::string_view parent,
                                         std::string_view key) {
  const json* value = ji::Find(object, key);
  if (value == nullptr) return absl::Now();
  return ReadTime(*value, ji::FieldPath(parent, key));
}

absl::StatusOr<absl::Duration> ReadLifetimeDays(const json& object, std::string_view parent,
                                                std::int64_t default_days) {
  const json* value = ji::Find(object, "lifetime_days");
  if (value == nullptr) return absl::Hours(24 * default_days);
  absl::StatusOr<std::int64_t> days =
      ji::ReadInteger(*value, ji::FieldPath(parent, "lifetime_days"), 1, kMaxLifetimeDays);
  if (!days.ok()) return days.status();
  return absl::Hours(24 * *days);
}

absl::StatusOr<pki::KeyType> ReadKeyType(const json& object, std::string_view parent) {
  const json* value = ji::Find(object, "key_type");
  if (value == nullptr) return pki::KeyType::kEcdsaP256;
  const std::string path = ji::FieldPath(parent, "key_type");
  absl::StatusOr<std::string> name = ji::ReadString(*value, path, kMaxNameBytes, false);
  if (!name.ok()) return name.status();
  absl::StatusOr<pki::KeyType> type = pki::ParseKeyType(*name);
  if (!type.ok()) return Prefixed(path, type.status());
  return type;
}

// A peer DNS name, validated and normalized, with errors naming `path`.
absl::StatusOr<std::string> ReadPeerName(const json& value, std::string_view path) {
  absl::StatusOr<std::string> text = ji::ReadString(value, path, kMaxNameBytes, false);
  if (!text.ok()) return text.status();
  // The one peer-name rule (reason `name_not_fqdn`): never an IP literal or a wildcard.
  return model::NormalizePeerName(*text, path);
}

absl::StatusOr<std::string> RequirePeerName(const json& object, std::string_view parent,
                                            std::string_view key) {
  const std::string path = ji::FieldPath(parent, key);
  const json* value = ji::Find(object, key);
  if (value == nullptr) return ji::FieldError(path, "is required");
  return ReadPeerName(*value, path);
}

// A list of strings of at most `max_items` entries, each at most `max_bytes` long.
absl::StatusOr<std::vector<std::string>> ReadStringList(const json& value, std::string_view path,
                                                        std::size_t max_items,
                                                        std::size_t max_bytes) {
  if (absl::Status s = ji::ExpectArray(value, path, max_items); !s.ok()) return s;
  std::vector<std::string> out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    absl::StatusOr<std::string> item =
        ji::ReadString(value[i], ji::IndexPath(path, i), max_bytes, false);
    if (!item.ok()) return item.status();
    out.push_back(*std::move(item));
  }
  return out;
}

bool IsSerialText(std::string_view serial) {
  bool any_digit = false;
  for (char c : serial) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != ':') return false;
    any_digit = any_digit || hex;
  }
  return any_digit;
}

// The certificates of a PEM bundle (concatenated "BEGIN CERTIFICATE" blocks; text between
// blocks is ignored, as openssl tools write it).
absl::StatusOr<std::vector<std::string_view>> SplitCertificates(std::string_view bundle,
                                                                std::string_view what) {
  const std::string_view name = what;
  if (bundle.size() > kMaxPemInputBytes) {
    return absl::InvalidArgumentError(absl::StrCat(ji::AbslView(name), ": ", bundle.size(),
                                                   " bytes; at most ", kMaxPemInputBytes,
                                                   " bytes are accepted"));
  }
  if (bundle.find("PRIVATE KEY") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(ji::AbslView(name), ": contains a private key; pass CA certificates only"));
  }
  std::vector<std::string_view> blocks;
  std::size_t pos = 0;
  while ((pos = bundle.find(kBeginCertificate, pos)) != std::string_view::npos) {
    const std::size_t end = bundle.find(kEndCertificate, pos);
    if (end == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(ji::AbslView(name), "[", blocks.size(),
                                                     "]: PEM block without its END line"));
    }
    const std::size_t stop = end + kEndCertificate.size();
    blocks.push_back(bundle.substr(pos, stop - pos));
    pos = stop;
  }
  if (blocks.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(ji::AbslView(name), ": no PEM certificate (\"",
                                                   ji::AbslView(kBeginCertificate), "\") found"));
  }
  return blocks;
}

absl::StatusOr<pki::Truststore> BuildTruststore(const char* bundle, std::string_view what) {
  absl::StatusOr<std::vector<std::string_view>> blocks = SplitCertificates(bundle, what);
  if (!blocks.ok()) return blocks.status();
  if (blocks->size() > pki::kMaxTrustedCas) {
    return absl::InvalidArgumentError(absl::StrCat(ji::AbslView(what), ": ", blocks->size(),
                                                   " certificates; a truststore holds at most ",
                                                   pki::kMaxTrustedCas));
  }
  pki::Truststore truststore;
  for (std::size_t i = 0; i < blocks->size(); ++i) {
    absl::StatusOr<pki::TrustedCa> added = truststore.Add((*blocks)[i]);
    if (!added.ok()) {
      if (added.status().code() != absl::StatusCode::kInvalidArgument) return added.status();
      return Prefixed(absl::StrCat(ji::AbslView(what), "[", i, "]"), added.status());
    }
  }
  return truststore;
}

json CertificateJson(const pki::CertificateInfo& info) { return info.ToJson(); }

absl::StatusOr<pki::CertificateInfo> InspectInput(std::string_view pem, std::string_view what) {
  if (pem.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(ji::AbslView(what), ": ", pem.size(),
                                                   " bytes; at most ", kMaxPemBytes,
                                                   " bytes are accepted"));
  }
  absl::StatusOr<pki::CertificateInfo> info = pki::InspectCertificate(pem);
  if (!info.ok()) return Prefixed(what, info.status());
  return info;
}

// ---- entry point bodies -------------------------------------------------------------------------

absl::Status CaCreate(char** out_ca_json, char** out_key, const char* options_json,
                      const ak_json_options* opts) {
  if (absl::Status s = PrepareOut(out_ca_json, "out_ca_json"); !s.ok()) return s;
  if (absl::Status s = PrepareOut(out_key, "out_private_key_pem"); !s.ok()) return s;
  if (absl::Status s = DistinctOuts(out_ca_json, "out_ca_json", out_key, "out_private_key_pem");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<int> indent = JsonIndent(opts);
  if (!indent.ok()) return indent.status();
  absl::StatusOr<json> options =
      ParseObject(options_json, "options", /*optional=*/true,
                  {"key_type", "lifetime_days", "common_name", "now"});
  if (!options.ok()) return options.status();

  pki::CaOptions ca_options;
  absl::StatusOr<pki::KeyType> key_type = ReadKeyType(*options, "options");
  if (!key_type.ok()) return key_type.status();
  ca_options.key_type = *key_type;
  absl::StatusOr<absl::Duration> lifetime =
      ReadLifetimeDays(*options, "options", kDefaultCaLifetimeDays);
  if (!lifetime.ok()) return lifetime.status();
  ca_options.lifetime = *lifetime;
  if (const json* cn = ji::Find(*options, "common_name"); cn != nullptr) {
    absl::StatusOr<std::string> text =
        ji::ReadString(*cn, "options.common_name", kMaxCommonNameBytes, false);
    if (!text.ok()) return text.status();
    ca_options.common_name = *std::move(text);
  }
  absl::StatusOr<absl::Time> now = ReadTimeOrNow(*options, "options", "now");
  if (!now.ok()) return now.status();

  absl::StatusOr<pki::CertificateAuthority> ca =
      pki::CertificateAuthority::Create(ca_options, *now);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<pki::SecretString> key = ca->PrivateKeyPem();
  if (!key.ok()) return key.status();
  json doc{{"certificate_pem", ca->certificate_pem()},
           {"certificate", CertificateJson(ca->info())}};
  return ReturnDocumentAndKey(out_ca_json, doc, *indent, out_key, *key);
}

absl::Status RequestCreate(char** out_request_json, char** out_key, const char* request_json,
                           const ak_json_options* opts) {
  if (absl::Status s = PrepareOut(out_request_json, "out_request_json"); !s.ok()) return s;
  if (absl::Status s = PrepareOut(out_key, "out_private_key_pem"); !s.ok()) return s;
  if (absl::Status s =
          DistinctOuts(out_request_json, "out_request_json", out_key, "out_private_key_pem");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = RequireInput(request_json, "request_json"); !s.ok()) return s;
  absl::StatusOr<int> indent = JsonIndent(opts);
  if (!indent.ok()) return indent.status();
  absl::StatusOr<json> request =
      ParseObject(request_json, "request", /*optional=*/false, {"name", "key_type"});
  if (!request.ok()) return request.status();
  absl::StatusOr<std::string> name = RequirePeerName(*request, "request", "name");
  if (!name.ok()) return name.status();
  absl::StatusOr<pki::KeyType> key_type = ReadKeyType(*request, "request");
  if (!key_type.ok()) return key_type.status();

  absl::StatusOr<pki::MemberRequest> made = pki::CreateKeyAndCsr(*key_type, *name);
  if (!made.ok()) return made.status();
  json doc{{"name", *name},
           {"key_type", std::string(pki::ToString(*key_type))},
           {"csr_pem", made->csr_pem}};
  return ReturnDocumentAndKey(out_request_json, doc, *indent, out_key, made->private_key_pem);
}

// The options document of a CSR signing: the array's members, the member being enrolled, the
// lifetime and the signing instant.
struct SignRequest {
  pki::PeerCertificateOptions peer;
  absl::Time now;
};

absl::StatusOr<SignRequest> ReadSignOptions(const char* options_json) {
  absl::StatusOr<json> options =
      ParseObject(options_json, "options", /*optional=*/false,
                  {"members", "expected_name", "lifetime_days", "now"});
  if (!options.ok()) return options.status();
  SignRequest request;
  const json* members = ji::Find(*options, "members");
  if (members == nullptr) return ji::FieldError("options.members", "is required");
  if (absl::Status s = ji::ExpectArray(*members, "options.members", kMaxMemberNames); !s.ok()) {
    return s;
  }
  if (members->empty()) return ji::FieldError("options.members", "must name at least one member");
  for (std::size_t i = 0; i < members->size(); ++i) {
    absl::StatusOr<std::string> name =
        ReadPeerName((*members)[i], ji::IndexPath("options.members", i));
    if (!name.ok()) return name.status();
    request.peer.member_names.push_back(*std::move(name));
  }
  if (const json* expected = ji::Find(*options, "expected_name"); expected != nullptr) {
    absl::StatusOr<std::string> name = ReadPeerName(*expected, "options.expected_name");
    if (!name.ok()) return name.status();
    request.peer.expected_name = *std::move(name);
  }
  absl::StatusOr<absl::Duration> lifetime =
      ReadLifetimeDays(*options, "options", kDefaultPeerLifetimeDays);
  if (!lifetime.ok()) return lifetime.status();
  request.peer.lifetime = *lifetime;
  absl::StatusOr<absl::Time> now = ReadTimeOrNow(*options, "options", "now");
  if (!now.ok()) return now.status();
  request.now = *now;
  return request;
}

// Signs with an already loaded CA; the shared tail of ak_pki_csr_sign and ak_ca_sign_csr.
absl::Status SignWith(const pki::CertificateAuthority& ca, char** out_certificate_json,
                      const char* csr_pem, const char* options_json, const ak_json_options* opts) {
  if (absl::Status s = RequireInput(csr_pem, "csr_pem"); !s.ok()) return s;
  if (absl::Status s = RequireInput(options_json, "options_json"); !s.ok()) return s;
  absl::StatusOr<int> indent = JsonIndent(opts);
  if (!indent.ok()) return indent.status();
  absl::StatusOr<SignRequest> request = ReadSignOptions(options_json);
  if (!request.ok()) return request.status();
  absl::StatusOr<pki::CertificateAuthority::IssuedCertificate> issued =
      ca.IssuePeerCertificate(csr_pem, request->peer, request->now);
  if (!issued.ok()) return issued.status();
  json doc{{"certificate_pem", issued->pem}, {"certificate", CertificateJson(issued->info)}};
  return ReturnString(out_certificate_json, DumpJson(doc, *indent));
}

absl::StatusOr<pki::CertificateAuthority> LoadCa(const char* ca_certificate_pem,
                                                 const char* ca_private_key_pem) {
  if (absl::Status s = RequireInput(ca_certificate_pem, "ca_certificate_pem"); !s.ok()) return s;
  if (absl::Status s = RequireInput(ca_private_key_pem, "ca_private_key_pem"); !s.ok()) return s;
  absl::StatusOr<pki::CertificateAuthority> ca =
      pki::CertificateAuthority::Load(ca_certificate_pem, ca_private_key_pem);
  if (!ca.ok()) return Prefixed("ca_certificate_pem/ca_private_key_pem", ca.status());
  return ca;
}

absl::Status CsrSign(char** out_certificate_json, const char* ca_certificate_pem,
                     const char* ca_private_key_pem, const char* csr_pem, const char* options_json,
                     const ak_json_options* opts) {
  if (absl::Status s = PrepareOut(out_certificate_json, "out_certificate_json"); !s.ok()) return s;
  // Every missing input is named before the CA key is parsed.
  if (absl::Status s = RequireInput(ca_certificate_pem, "ca_certificate_pem"); !s.ok()) return s;
  if (absl::Status s = RequireInput(ca_private_key_pem, "ca_private_key_pem"); !s.ok()) return s;
  if (absl::Status s = RequireInput(csr_pem, "csr_pem"); !s.ok()) return s;
  if (absl::Status s = RequireInput(options_json, "options_json"); !s.ok()) return s;
  absl::StatusOr<pki::CertificateAuthority> ca = LoadCa(ca_certificate_pem, ca_private_key_pem);
  if (!ca.ok()) return ca.status();
  return SignWith(*ca, out_certificate_json, csr_pem, options_json, opts);
}

absl::Status CertificateInspect(char** out_info_json, const char* certificate_pem,
                                const ak_json_options* opts) {
  if (absl::Status s = PrepareOut(out_info_json, "out_info_json"); !s.ok()) return s;
  if (absl::Status s = RequireInput(certificate_pem, "certificate_pem"); !s.ok()) return s;
  absl::StatusOr<int> indent = JsonIndent(opts);
  if (!indent.ok()) return indent.status();
  absl::StatusOr<pki::CertificateInfo> info = InspectInput(certificate_pem, "certificate_pem");
  if (!info.ok()) return info.status();
  return ReturnString(out_info_json, DumpJson(CertificateJson(*info), *indent));
}

absl::Status TruststoreInspect(char** out_truststore_json, const char* ca_certificates_pem,
                               const ak_json_options* opts) {
  if (absl::Status s = PrepareOut(out_truststore_json, "out_truststore_json"); !s.ok()) return s;
  if (absl::Status s = RequireInput(ca_certificates_pem, "ca_certificates_pem"); !s.ok()) return s;
  absl::StatusOr<int> indent = JsonIndent(opts);
  if (!indent.ok()) return indent.status();
  absl::StatusOr<pki::Truststore> truststore =
      BuildTruststore(ca_certificates_pem, "ca_certificates_pem");
  if (!truststore.ok()) return truststore.status();
  return ReturnString(out_truststore_json, DumpJson(truststore->ToJson(), *indent));
}

absl::Status Verify(char** out_result_json, const char* certificate_pem, const char* trusted_ca_pem,
                    const char* options_json, const ak_json_options* opts) {
  if (absl::Status s = PrepareOut(out_result_json, "out_result_json"); !s.ok()) return s;
  if (absl::Status s = RequireInput(certificate_pem, "certificate_pem"); !s.ok()) return s;
  if (absl::Status s = RequireInput(trusted_ca_pem, "trusted_ca_pem"); !s.ok()) return s;
  if (absl::Status s = RequireInput(options_json, "options_json"); !s.ok()) return s;
  absl::StatusOr<int> indent = JsonIndent(opts);
  if (!indent.ok()) return indent.status();
  absl::StatusOr<json> options =
      ParseObject(options_json, "options", /*optional=*/false,
                  {"expected_name", "role", "at", "revoked_serials"});
  if (!options.ok()) return options.status();

  pki::VerifyOptions verify;
  absl::StatusOr<std::string> expected = RequirePeerName(*options, "options", "expected_name");
  if (!expected.ok()) return expected.status();
  verify.expected_name = *expected;
  if (const json* role = ji::Find(*options, "role"); role != nullptr) {
    absl::StatusOr<std::string> text = ji::ReadString(*role, "options.role", 16, false);
    if (!text.ok()) return text.status();
    if (*text == "server") {
      verify.role = pki::Role::kServer;
    } else if (*text == "client") {
      verify.role = pki::Role::kClient;
    } else {
      return ji::FieldError("options.role", absl::StrCat("must be \"server\" or \"client\", got ",
                                                         ji::Describe(*role)));
    }
  }
  absl::StatusOr<absl::Time> at = ReadTimeOrNow(*options, "options", "at");
  if (!at.ok()) return at.status();
  verify.at = *at;
  if (const json* revoked = ji::Find(*options, "revoked_serials"); revoked != nullptr) {
    absl::StatusOr<std::vector<std::string>> serials =
        ReadStringList(*revoked, "options.revoked_serials", kMaxRevokedSerials, kMaxSerialBytes);
    if (!serials.ok()) return serials.status();
    for (std::size_t i = 0; i < serials->size(); ++i) {
      if (!IsSerialText((*serials)[i])) {
        return ji::FieldError(ji::IndexPath("options.revoked_serials", i),
                              absl::StrCat("must be a hexadecimal serial (colons allowed), got ",
                                           ji::Describe((*revoked)[i])));
      }
    }
    verify.revoked_serials = *std::move(serials);
  }
  absl::StatusOr<pki::Truststore> truststore = BuildTruststore(trusted_ca_pem, "trusted_ca_pem");
  if (!truststore.ok()) return truststore.status();

  // The peer's certificate is judged, not parsed as our input: garbage is reason `malformed`.
  const std::string_view presented(certificate_pem);
  pki::VerificationResult result;
  if (presented.size() > kMaxPemBytes) {
    result = {false, pki::RejectReason::kMalformed,
              absl::StrCat("the certificate is ", presented.size(), " bytes; at most ",
                           kMaxPemBytes, " bytes are accepted")};
  } else if (presented.find("PRIVATE KEY") != std::string_view::npos) {
    result = {false, pki::RejectReason::kMalformed,
              "a private key was given where a certificate was expected"};
  } else {
    result = pki::VerifyPeerCertificate(presented, *truststore, verify);
  }
  return ReturnString(out_result_json, DumpJson(result.ToJson(), *indent));
}

absl::StatusOr<pki::CertificateValidity> ReadValidity(const json& value, std::string_view path,
                                                      bool with_member) {
  if (absl::Status s = with_member
                           ? ji::ExpectObjectWith(value, path, {"member", "not_before", "not_after"})
                           : ji::ExpectObjectWith(value, path, {"not_before", "not_after"});
      !s.ok()) {
    return s;
  }
  pki::CertificateValidity validity;
  if (with_member) {
    absl::StatusOr<std::string> member = RequirePeerName(value, path, "member");
    if (!member.ok()) return member.status();
    validity.member = *member;
  }
  for (const char* key : {"not_before", "not_after"}) {
    const std::string field = ji::FieldPath(path, key);
    const json* t = ji::Find(value, key);
    if (t == nullptr) return ji::FieldError(field, "is required");
    absl::StatusOr<absl::Time> parsed = ReadTime(*t, field);
    if (!parsed.ok()) return parsed.status();
    (std::string_view(key) == "not_before" ? validity.not_before : validity.not_after) = *parsed;
  }
  if (validity.not_after <= validity.not_before) {
    return ji::FieldError(ji::FieldPath(path, "not_after"), "must be later than not_before");
  }
  return validity;
}

absl::StatusOr<pki::RotationPlan> PlanFrom(const model::Array& array, const json& operation) {
  const json* kind_value = ji::Find(operation, "operation");
  if (kind_value == nullptr) return ji::FieldError("operation.operation", "is required");
  absl::StatusOr<std::string> kind = ji::ReadString(*kind_value, "operation.operation", 32, false);
  if (!kind.ok()) return kind.status();
  if (*kind == "join" || *kind == "leave" || *kind == "new_primary") {
    if (absl::Status s = ji::RejectUnknownFields(operation, "operation", {"operation", "member"});
        !s.ok()) {
      return s;
    }
    const json* member_value = ji::Find(operation, "member");
    if (member_value == nullptr) return ji::FieldError("operation.member", "is required");
    absl::StatusOr<std::string> member =
        ji::ReadString(*member_value, "operation.member", kMaxNameBytes, false);
    if (!member.ok()) return member.status();
    if (*kind == "join") return pki::PlanJoin(array, *member);
    if (*kind == "leave") return pki::PlanLeave(array, *member);
    return pki::PlanNewPrimary(array, *member);
  }
  if (*kind == "renewal") {
    if (absl::Status s = ji::RejectUnknownFields(operation, "operation",
                                                 {"operation", "now", "ca", "certificates"});
        !s.ok()) {
      return s;
    }
    absl::StatusOr<absl::Time> now = ReadTimeOrNow(operation, "operation", "now");
    if (!now.ok()) return now.status();
    const json* ca_value = ji::Find(operation, "ca");
    if (ca_value == nullptr) return ji::FieldError("operation.ca", "is required");
    absl::StatusOr<pki::CertificateValidity> ca =
        ReadValidity(*ca_value, "operation.ca", /*with_member=*/false);
    if (!ca.ok()) return ca.status();
    ca->member = array.primary;
    std::vector<pki::CertificateValidity> peers;
    if (const json* list = ji::Find(operation, "certificates"); list != nullptr) {
      if (absl::Status s =
              ji::ExpectArray(*list, "operation.certificates", kMaxCertificateValidities);
          !s.ok()) {
        return s;
      }
      for (std::size_t i = 0; i < list->size(); ++i) {
        absl::StatusOr<pki::CertificateValidity> peer =
            ReadValidity((*list)[i], ji::IndexPath("operation.certificates", i), true);
        if (!peer.ok()) return peer.status();
        peers.push_back(*std::move(peer));
      }
    }
    return pki::PlanRenewal(array, *ca, peers, *now);
  }
  return ji::FieldError("operation.operation",
                        absl::StrCat("must be \"join\", \"leave\", \"new_primary\" or "
                                     "\"renewal\", got ",
                                     ji::Describe(*kind_value)));
}

absl::Status Plan(char** out_plan_json, const char* array_json, const char* operation_json,
                  const ak_json_options* opts) {
  if (absl::Status s = PrepareOut(out_plan_json, "out_plan_json"); !s.ok()) return s;
  if (absl::Status s = RequireInput(array_json, "array_json"); !s.ok()) return s;
  if (absl::Status s = RequireInput(operation_json, "operation_json"); !s.ok()) return s;
  absl::StatusOr<int> indent = JsonIndent(opts);
  if (!indent.ok()) return indent.status();
  absl::StatusOr<model::Array> array = model::ArrayFromJsonText(array_json);
  if (!array.ok()) return array.status();
  // The fields allowed depend on the operation; PlanFrom checks them once it knows which.
  absl::StatusOr<json> operation =
      ParseObject(operation_json, "operation", /*optional=*/false,
                  {"operation", "member", "now", "ca", "certificates"});
  if (!operation.ok()) return operation.status();
  absl::StatusOr<pki::RotationPlan> plan = PlanFrom(*array, *operation);
  if (!plan.ok()) return plan.status();
  return ReturnString(out_plan_json, DumpJson(plan->ToJson(), *indent));
}

absl::Status TlsPolicy(char** out_policy_json, const char* request_json,
                       const ak_json_options* opts) {
  if (absl::Status s = PrepareOut(out_policy_json, "out_policy_json"); !s.ok()) return s;
  absl::StatusOr<int> indent = JsonIndent(opts);
  if (!indent.ok()) return indent.status();
  absl::StatusOr<json> request =
      ParseObject(request_json, "request", /*optional=*/true, {"min_version", "suites"});
  if (!request.ok()) return request.status();
  pki::TlsVersion min_version = pki::TlsVersion::kTls12;
  if (const json* version = ji::Find(*request, "min_version"); version != nullptr) {
    absl::StatusOr<std::string> text = ji::ReadString(*version, "request.min_version", 32, false);
    if (!text.ok()) return text.status();
    absl::StatusOr<pki::TlsVersion> parsed = pki::ParseTlsVersion(*text);
    if (!parsed.ok()) return Prefixed("request.min_version", parsed.status());
    min_version = *parsed;
  }
  std::vector<std::string> suites;
  if (const json* list = ji::Find(*request, "suites"); list != nullptr) {
    absl::StatusOr<std::vector<std::string>> names =
        ReadStringList(*list, "request.suites", kMaxSuites, kMaxSuiteNameBytes);
    if (!names.ok()) return names.status();
    suites = *std::move(names);
  }
  absl::StatusOr<pki::TlsPolicy> policy = pki::MakeTlsPolicy(min_version, suites);
  if (!policy.ok()) return Prefixed("request.suites", policy.status());
  return ReturnString(out_policy_json, DumpJson(policy->ToJson(), *indent));
}

}  // namespace
}  // namespace arraykit::capi

namespace capi = arraykit::capi;

// The opaque handle of include/arraykit/pki.h: a loaded CA, its key parsed once.
struct ak_ca {
  arraykit::pki::CertificateAuthority authority;
};

extern "C" {

AK_API void ak_free_secret(char* secret) {
  if (secret == nullptr) return;
  // Writes through a volatile pointer are not removed as dead stores before free().
  volatile char* p = secret;
  while (*p != '\0') *p++ = '\0';
  std::free(secret);
}

AK_API ak_status ak_pki_ca_create(char** out_ca_json, char** out_private_key_pem,
                                  const char* options_json, const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    return capi::WithoutKeyMaterial(
        capi::CaCreate(out_ca_json, out_private_key_pem, options_json, opts));
  });
}

AK_API ak_status ak_pki_request_create(char** out_request_json, char** out_private_key_pem,
                                       const char* request_json, const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    return capi::WithoutKeyMaterial(
        capi::RequestCreate(out_request_json, out_private_key_pem, request_json, opts));
  });
}

AK_API ak_status ak_pki_csr_sign(char** out_certificate_json, const char* ca_certificate_pem,
                                 const char* ca_private_key_pem, const char* csr_pem,
                                 const char* options_json, const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    return capi::WithoutKeyMaterial(
        capi::CsrSign(out_certificate_json, ca_certificate_pem, ca_private_key_pem, csr_pem,
                      options_json, opts),
        ca_private_key_pem == nullptr ? std::string_view() : std::string_view(ca_private_key_pem));
  });
}

AK_API ak_status ak_ca_open(ak_ca** out_ca, const char* ca_certificate_pem,
                            const char* ca_private_key_pem) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (out_ca == nullptr) return absl::InvalidArgumentError("out_ca: must not be NULL");
    *out_ca = nullptr;
    absl::StatusOr<arraykit::pki::CertificateAuthority> ca =
        capi::LoadCa(ca_certificate_pem, ca_private_key_pem);
    if (!ca.ok()) {
      return capi::WithoutKeyMaterial(ca.status(), ca_private_key_pem == nullptr
                                                       ? std::string_view()
                                                       : std::string_view(ca_private_key_pem));
    }
    *out_ca = new ak_ca{*std::move(ca)};
    return absl::OkStatus();
  });
}

AK_API ak_status ak_ca_sign_csr(char** out_certificate_json, const ak_ca* ca, const char* csr_pem,
                                const char* options_json, const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = capi::PrepareOut(out_certificate_json, "out_certificate_json"); !s.ok()) {
      return s;
    }
    if (ca == nullptr) return absl::InvalidArgumentError("ca: must not be NULL");
    return capi::WithoutKeyMaterial(
        capi::SignWith(ca->authority, out_certificate_json, csr_pem, options_json, opts));
  });
}

AK_API ak_status ak_ca_certificate(char** out_ca_json, const ak_ca* ca,
                                   const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = capi::PrepareOut(out_ca_json, "out_ca_json"); !s.ok()) return s;
    if (ca == nullptr) return absl::InvalidArgumentError("ca: must not be NULL");
    absl::StatusOr<int> indent = capi::JsonIndent(opts);
    if (!indent.ok()) return indent.status();
    nlohmann::json doc{{"certificate_pem", ca->authority.certificate_pem()},
                       {"certificate", capi::CertificateJson(ca->authority.info())}};
    return capi::ReturnString(out_ca_json, capi::DumpJson(doc, *indent));
  });
}

AK_API void ak_ca_close(ak_ca* ca) { delete ca; }

AK_API ak_status ak_pki_certificate_inspect(char** out_info_json, const char* certificate_pem,
                                            const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    return capi::WithoutKeyMaterial(
        capi::CertificateInspect(out_info_json, certificate_pem, opts),
        certificate_pem == nullptr ? std::string_view() : std::string_view(certificate_pem));
  });
}

AK_API ak_status ak_pki_certificate_pem(char** out_pem, const void* der, size_t der_len) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    if (absl::Status s = capi::PrepareOut(out_pem, "out_pem"); !s.ok()) return s;
    if (der == nullptr) return absl::InvalidArgumentError("der: must not be NULL");
    if (der_len > capi::kMaxPemBytes) {
      return arraykit::MakeError(absl::StatusCode::kInvalidArgument, "malformed",
                                 absl::StrCat("der: ", der_len, " bytes; at most ",
                                              capi::kMaxPemBytes, " bytes are accepted"));
    }
    absl::StatusOr<std::string> pem = arraykit::pki::CertificateAsPem(
        std::string_view(static_cast<const char*>(der), der_len));
    if (!pem.ok()) return capi::Prefixed("der", pem.status());
    return capi::ReturnString(out_pem, *pem);
  });
}

AK_API ak_status ak_pki_truststore_inspect(char** out_truststore_json,
                                           const char* ca_certificates_pem,
                                           const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    return capi::WithoutKeyMaterial(
        capi::TruststoreInspect(out_truststore_json, ca_certificates_pem, opts));
  });
}

AK_API ak_status ak_pki_verify(char** out_result_json, const char* certificate_pem,
                               const char* trusted_ca_pem, const char* options_json,
                               const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    return capi::WithoutKeyMaterial(
        capi::Verify(out_result_json, certificate_pem, trusted_ca_pem, options_json, opts));
  });
}

AK_API ak_status ak_pki_plan(char** out_plan_json, const char* array_json,
                             const char* operation_json, const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    return capi::Plan(out_plan_json, array_json, operation_json, opts);
  });
}

AK_API ak_status ak_pki_tls_policy(char** out_policy_json, const char* request_json,
                                   const ak_json_options* opts) {
  return capi::Guard(__func__, [&]() -> absl::Status {
    return capi::TlsPolicy(out_policy_json, request_json, opts);
  });
}

}  // extern "C"
