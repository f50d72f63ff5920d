// The PKI part of the C ABI seen from a host, through the shared library only: CA, member key
// and CSR, signing, inspection, verification, plans, TLS policy, NULL arguments, malformed
// documents, and key hygiene (keys never in ak_last_error() or the log; ak_free_secret wipes).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "arraykit/arraykit.h"
#include "arraykit/arraykit.hpp"
#include "nlohmann/json.hpp"

using nlohmann::json;

// ---- observing ak_free_secret -------------------------------------------------------------------
// The library calls free(); this executable's definition interposes it (the executable comes
// first in symbol lookup) and forwards to glibc's __libc_free. For one watched pointer it copies
// the bytes as they are at the moment of release, so the test can see that they were wiped.
// Sanitizers intercept free() themselves, so the observation is compiled only without them.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define ARRAYKIT_OBSERVE_FREE 1
extern "C" void __libc_free(void* ptr) noexcept;  // NOLINT: glibc's exported implementation of free

namespace {
std::atomic<void*> watched_pointer{nullptr};
std::size_t watched_size = 0;
char released_bytes[8192];
std::atomic<bool> watched_released{false};
}  // namespace

extern "C" void free(void* ptr) noexcept {  // NOLINT: deliberate interposition, see above
  if (ptr != nullptr && ptr == watched_pointer.load()) {
    std::memcpy(released_bytes, ptr, watched_size);
    watched_released = true;
    watched_pointer = nullptr;
  }
  __libc_free(ptr);
}
#endif

namespace {

const char kMembers[] = R"({"members": ["boston.example.com", "newyork.example.com"],
                            "expected_name": "newyork.example.com"})";

struct Owned {
  char* p = nullptr;
  ~Owned() { ak_free(p); }
  std::string str() const { return p != nullptr ? std::string(p) : std::string(); }
};

struct Secret {
  char* p = nullptr;
  ~Secret() { ak_free_secret(p); }
  std::string str() const { return p != nullptr ? std::string(p) : std::string(); }
};

struct Ca {
  std::string certificate_pem;
  std::string key_pem;
  json info;
};

Ca MakeCa(const char* options = nullptr) {
  Owned doc;
  Secret key;
  REQUIRE(ak_pki_ca_create(&doc.p, &key.p, options, nullptr) == AK_OK);
  json parsed = json::parse(doc.str());
  return Ca{parsed.at("certificate_pem").get<std::string>(), key.str(), parsed.at("certificate")};
}

// A member key + CSR for `name`: {csr, key}.
std::pair<std::string, std::string> MakeRequest(const std::string& name) {
  Owned doc;
  Secret key;
  const std::string request = json{{"name", name}}.dump();
  REQUIRE(ak_pki_request_create(&doc.p, &key.p, request.c_str(), nullptr) == AK_OK);
  return {json::parse(doc.str()).at("csr_pem").get<std::string>(), key.str()};
}

std::string Issue(const Ca& ca, const std::string& csr, const char* options = kMembers) {
  Owned doc;
  REQUIRE(ak_pki_csr_sign(&doc.p, ca.certificate_pem.c_str(), ca.key_pem.c_str(), csr.c_str(),
                          options, nullptr) == AK_OK);
  return json::parse(doc.str()).at("certificate_pem").get<std::string>();
}

json Verify(const std::string& certificate, const std::string& trusted,
            const std::string& options) {
  Owned doc;
  ak_status code =
      ak_pki_verify(&doc.p, certificate.c_str(), trusted.c_str(), options.c_str(), nullptr);
  INFO(ak_last_error());
  REQUIRE(code == AK_OK);
  return json::parse(doc.str());
}

// 16-character windows of the base64 that encodes the private scalar of an EC PKCS#8 key
// (DER bytes 36..67, base64 characters 48..91). The rest of the key is not secret: the
// algorithm identifiers and the public point are also in the certificate and the CSR.
std::vector<std::string> KeyFragments(const std::string& key_pem) {
  std::string body;
  std::size_t start = 0;
  while (start < key_pem.size()) {
    std::size_t end = key_pem.find('\n', start);
    if (end == std::string::npos) end = key_pem.size();
    std::string line = key_pem.substr(start, end - start);
    if (line.rfind("-----", 0) != 0) body += line;
    start = end + 1;
  }
  std::vector<std::string> fragments;
  for (std::size_t i = 48; i + 16 <= 92 && i + 16 <= body.size(); i += 2) {
    fragments.push_back(body.substr(i, 16));
  }
  return fragments;
}

bool ContainsKeyMaterial(const std::string& text, const std::string& key_pem) {
  if (text.find("PRIVATE KEY") != std::string::npos) return true;
  for (const std::string& f : KeyFragments(key_pem)) {
    if (text.find(f) != std::string::npos) return true;
  }
  return false;
}

struct LogCapture {
  std::vector<std::string> lines;
  static void Callback(void* user, ak_log_level, const char* message) {
    static_cast<LogCapture*>(user)->lines.emplace_back(message);
  }
};

}  // namespace

TEST_CASE("ak_pki_ca_create returns the CA certificate in JSON and the key separately") {
  Owned doc;
  Secret key;
  REQUIRE(ak_pki_ca_create(&doc.p, &key.p, nullptr, nullptr) == AK_OK);
  CHECK(std::string(ak_last_error()).empty());
  REQUIRE(doc.p != nullptr);
  REQUIRE(key.p != nullptr);
  const std::string text = doc.str();
  CHECK(text.find("PRIVATE KEY") == std::string::npos);
  json parsed = json::parse(text);
  CHECK(parsed.at("certificate_pem").get<std::string>().rfind("-----BEGIN CERTIFICATE-----", 0) ==
        0);
  const json& info = parsed.at("certificate");
  CHECK(info.at("is_ca") == true);
  CHECK(info.at("subject") == "CN=arraykit array CA");
  CHECK(info.at("key") == "ecdsa-p256");
  CHECK(info.at("fingerprint_sha256").get<std::string>().size() == 32 * 3 - 1);
  CHECK(info.contains("renewal_at"));
  CHECK(key.str().rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
  REQUIRE(KeyFragments(key.str()).size() == 15);
  CHECK_FALSE(ContainsKeyMaterial(text, key.str()));
}

TEST_CASE("ak_pki_ca_create honours key type, lifetime, common name and now") {
  Ca ca = MakeCa(R"({"key_type": "ecdsa-p384", "lifetime_days": 10,
                     "common_name": "boston CA", "now": "2026-01-01T12:00:00Z"})");
  CHECK(ca.info.at("key") == "ecdsa-p384");
  CHECK(ca.info.at("subject") == "CN=boston CA");
  CHECK(ca.info.at("not_before") == "2026-01-01T11:55:00+00:00");  // 5 minutes for clock skew
  CHECK(ca.info.at("not_after") == "2026-01-11T12:00:00+00:00");
}

TEST_CASE("ak_pki_ca_create names the bad field") {
  struct Case {
    const char* options;
    const char* field;
  };
  const Case cases[] = {
      {R"({"key_type": "rsa-1024"})", "options.key_type"},
      {R"({"key_type": 7})", "options.key_type"},
      {R"({"lifetime_days": "ten"})", "options.lifetime_days"},
      {R"({"lifetime_days": 0})", "options.lifetime_days"},
      {R"({"lifetime_days": 20000})", "options.lifetime_days"},
      {R"({"common_name": ""})", "options.common_name"},
      {R"({"now": "yesterday"})", "options.now"},
      {R"({"key_type": )", "options: not valid JSON"},
      {R"([1, 2])", "options"},
  };
  for (const Case& c : cases) {
    INFO(c.options);
    Owned doc;
    Secret key;
    CHECK(ak_pki_ca_create(&doc.p, &key.p, c.options, nullptr) == AK_INVALID_ARGUMENT);
    CHECK(std::string(ak_last_error()).find(c.field) != std::string::npos);
    CHECK(doc.p == nullptr);
    CHECK(key.p == nullptr);
  }
}

TEST_CASE("PKI entry points refuse NULL arguments naming the parameter") {
  char* out = nullptr;
  char* key = nullptr;
  CHECK(ak_pki_ca_create(nullptr, &key, nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "out_ca_json must not be NULL");
  CHECK(ak_pki_ca_create(&out, nullptr, nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "out_private_key_pem must not be NULL");
  CHECK(ak_pki_ca_create(&out, &out, nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("must differ") != std::string::npos);
  CHECK(ak_pki_request_create(&out, &key, nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "request_json must not be NULL");
  CHECK(ak_pki_csr_sign(&out, "c", nullptr, "r", "{}", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "ca_private_key_pem must not be NULL");
  CHECK(ak_pki_csr_sign(&out, "c", "k", nullptr, "{}", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "csr_pem must not be NULL");
  CHECK(ak_pki_certificate_inspect(&out, nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "certificate_pem must not be NULL");
  CHECK(ak_pki_truststore_inspect(nullptr, "x", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "out_truststore_json must not be NULL");
  CHECK(ak_pki_verify(&out, "c", nullptr, "{}", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "trusted_ca_pem must not be NULL");
  CHECK(ak_pki_verify(&out, "c", "t", nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "options_json must not be NULL");
  CHECK(ak_pki_plan(&out, "{}", nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "operation_json must not be NULL");
  CHECK(ak_pki_tls_policy(nullptr, nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "out_policy_json must not be NULL");
  CHECK(out == nullptr);
  CHECK(key == nullptr);
}

TEST_CASE("a member request normalizes its name and keeps the key out of the JSON") {
  Owned doc;
  Secret key;
  REQUIRE(ak_pki_request_create(&doc.p, &key.p,
                                R"({"name": "NewYork.Example.com.", "key_type": "rsa-2048"})",
                                nullptr) == AK_OK);
  json parsed = json::parse(doc.str());
  CHECK(parsed.at("name") == "newyork.example.com");
  CHECK(parsed.at("key_type") == "rsa-2048");
  CHECK(parsed.at("csr_pem").get<std::string>().find("CERTIFICATE REQUEST") != std::string::npos);
  CHECK_FALSE(ContainsKeyMaterial(doc.str(), key.str()));

  Owned bad;
  Secret bad_key;
  CHECK(ak_pki_request_create(&bad.p, &bad_key.p, "{}", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "request.name: is required");
  CHECK(ak_pki_request_create(&bad.p, &bad_key.p, R"({"name": "*.example.com"})", nullptr) ==
        AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("request.name") != std::string::npos);
  CHECK(ak_pki_request_create(&bad.p, &bad_key.p, R"({"name": "a.example.com", "key_type": "dsa"})",
                              nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("request.key_type") != std::string::npos);
  CHECK(bad_key.p == nullptr);
}

TEST_CASE("issue, inspect and verify a peer certificate end to end") {
  Ca ca = MakeCa();
  auto [csr, member_key] = MakeRequest("newyork.example.com");
  std::string certificate = Issue(ca, csr);

  Owned info_doc;
  REQUIRE(ak_pki_certificate_inspect(&info_doc.p, certificate.c_str(), nullptr) == AK_OK);
  json info = json::parse(info_doc.str());
  CHECK(info.at("subject") == "CN=newyork.example.com");
  CHECK(info.at("dns_names") == json::array({"newyork.example.com"}));
  CHECK(info.at("is_ca") == false);
  CHECK(info.at("issuer") == ca.info.at("subject"));

  for (const char* role : {"server", "client"}) {
    json result = Verify(certificate, ca.certificate_pem,
                         json{{"expected_name", "newyork.example.com"}, {"role", role}}.dump());
    CHECK(result.at("valid") == true);
    CHECK(result.at("reason").is_null());
    CHECK(result.at("message").get<std::string>().find(role) != std::string::npos);
  }

  json wrong =
      Verify(certificate, ca.certificate_pem, R"({"expected_name": "boston.example.com"})");
  CHECK(wrong ==
        json{{"valid", false}, {"reason", "name_mismatch"}, {"message", wrong.at("message")}});

  json expired =
      Verify(certificate, ca.certificate_pem,
             R"({"expected_name": "newyork.example.com", "at": "2100-01-01T00:00:00Z"})");
  CHECK(expired.at("reason") == "expired");
  json early = Verify(certificate, ca.certificate_pem,
                      R"({"expected_name": "newyork.example.com", "at": "2000-01-01T00:00:00Z"})");
  CHECK(early.at("reason") == "not_yet_valid");

  const std::string serial = info.at("serial").get<std::string>();
  json revoked = Verify(
      certificate, ca.certificate_pem,
      json{{"expected_name", "newyork.example.com"}, {"revoked_serials", {"00", serial}}}.dump());
  CHECK(revoked.at("reason") == "revoked");

  Ca other = MakeCa();
  json foreign =
      Verify(certificate, other.certificate_pem, R"({"expected_name": "newyork.example.com"})");
  CHECK(foreign.at("reason") == "untrusted_issuer");
  // During a rollover the truststore holds both CAs.
  json both = Verify(certificate, other.certificate_pem + ca.certificate_pem,
                     R"({"expected_name": "newyork.example.com"})");
  CHECK(both.at("valid") == true);
}

TEST_CASE("a malformed presented certificate is a rejection, not an error") {
  Ca ca = MakeCa();
  for (const char* garbage : {"", "not a certificate",
                              "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}) {
    json result = Verify(garbage, ca.certificate_pem, R"({"expected_name": "a.example.com"})");
    CHECK(result.at("valid") == false);
    CHECK(result.at("reason") == "malformed");
  }
}

TEST_CASE("ak_pki_verify names bad options and an unusable truststore") {
  Ca ca = MakeCa();
  auto [csr, key] = MakeRequest("newyork.example.com");
  std::string certificate = Issue(ca, csr);
  struct Case {
    std::string trusted;
    const char* options;
    const char* field;
  };
  const Case cases[] = {
      {ca.certificate_pem, "{}", "options.expected_name: is required"},
      {ca.certificate_pem, R"({"expected_name": 3})", "options.expected_name"},
      {ca.certificate_pem, R"({"expected_name": "a.example.com", "role": "peer"})", "options.role"},
      {ca.certificate_pem, R"({"expected_name": "a.example.com", "at": "soon"})", "options.at"},
      {ca.certificate_pem, R"({"expected_name": "a.example.com", "revoked_serials": ["xyz"]})",
       "options.revoked_serials[0]"},
      {ca.certificate_pem, R"({"expected_name": "a.example.com", "revoked_serials": "01"})",
       "options.revoked_serials"},
      {ca.certificate_pem, "nope", "options: not valid JSON"},
      {"", R"({"expected_name": "a.example.com"})", "trusted_ca_pem: no PEM certificate"},
      {certificate, R"({"expected_name": "a.example.com"})", "trusted_ca_pem[0]"},
  };
  for (const Case& c : cases) {
    INFO(c.options);
    Owned doc;
    CHECK(ak_pki_verify(&doc.p, certificate.c_str(), c.trusted.c_str(), c.options, nullptr) ==
          AK_INVALID_ARGUMENT);
    CHECK(std::string(ak_last_error()).find(c.field) != std::string::npos);
    CHECK(doc.p == nullptr);
  }
}

TEST_CASE("the CA refuses a CSR with a stable reason and names bad sign options") {
  Ca ca = MakeCa();
  auto [csr, key] = MakeRequest("detroit.example.com");
  Owned doc;
  CHECK(ak_pki_csr_sign(&doc.p, ca.certificate_pem.c_str(), ca.key_pem.c_str(), csr.c_str(),
                        R"({"members": ["boston.example.com"]})", nullptr) == AK_PERMISSION_DENIED);
  // One shape for every refusal: AK_PERMISSION_DENIED, the reason apart from the message.
  CHECK(std::string(ak_last_error_reason()) == "not_a_member");
  CHECK(std::string(ak_last_error()) == "'detroit.example.com' is not a member of the array");
  CHECK(ak_pki_csr_sign(&doc.p, ca.certificate_pem.c_str(), ca.key_pem.c_str(), "garbage",
                        R"({"members": ["boston.example.com"]})", nullptr) ==
        AK_PERMISSION_DENIED);
  CHECK(std::string(ak_last_error_reason()) == "malformed");

  struct Case {
    const char* options;
    const char* field;
  };
  const Case cases[] = {
      {"{}", "options.members: is required"},
      {R"({"members": []})", "options.members"},
      {R"({"members": [1]})", "options.members[0]"},
      {R"({"members": ["ok.example.com", "bad name"]})", "options.members[1]"},
      {R"({"members": ["a.example.com"], "expected_name": false})", "options.expected_name"},
      {R"({"members": ["a.example.com"], "lifetime_days": -1})", "options.lifetime_days"},
      {R"({"members": ["a.example.com"], "now": 12})", "options.now"},
  };
  for (const Case& c : cases) {
    INFO(c.options);
    CHECK(ak_pki_csr_sign(&doc.p, ca.certificate_pem.c_str(), ca.key_pem.c_str(), csr.c_str(),
                          c.options, nullptr) == AK_INVALID_ARGUMENT);
    CHECK(std::string(ak_last_error()).find(c.field) != std::string::npos);
  }
  CHECK(doc.p == nullptr);
}

TEST_CASE("a private key never appears in ak_last_error or in the log") {
  Ca ca = MakeCa();
  Ca other = MakeCa();
  auto [csr, member_key] = MakeRequest("newyork.example.com");
  LogCapture log;
  ak_host_hooks hooks = AK_HOST_HOOKS_INIT;
  hooks.user = &log;
  hooks.log = &LogCapture::Callback;
  hooks.log_level = AK_LOG_DEBUG;
  REQUIRE(ak_set_host_hooks(&hooks) == AK_OK);

  // A damaged key (a base64 character changed in the middle), a key of another CA, a key
  // without its header, and keys where certificates are expected.
  std::string damaged = ca.key_pem;
  damaged[damaged.size() / 2] = damaged[damaged.size() / 2] == 'A' ? 'B' : 'A';
  std::string headless = ca.key_pem.substr(ca.key_pem.find('\n') + 1);
  std::vector<std::string> failures;
  for (const std::string& key : {damaged, other.key_pem, headless, std::string("garbage")}) {
    Owned doc;
    CHECK(ak_pki_csr_sign(&doc.p, ca.certificate_pem.c_str(), key.c_str(), csr.c_str(), kMembers,
                          nullptr) != AK_OK);
    failures.emplace_back(ak_last_error());
  }
  Owned doc;
  CHECK(ak_pki_certificate_inspect(&doc.p, ca.key_pem.c_str(), nullptr) == AK_INVALID_ARGUMENT);
  failures.emplace_back(ak_last_error());
  CHECK(ak_pki_truststore_inspect(&doc.p, ca.key_pem.c_str(), nullptr) == AK_INVALID_ARGUMENT);
  failures.emplace_back(ak_last_error());
  CHECK(ak_pki_verify(&doc.p, ca.certificate_pem.c_str(), member_key.c_str(),
                      R"({"expected_name": "a.example.com"})", nullptr) == AK_INVALID_ARGUMENT);
  failures.emplace_back(ak_last_error());
  const std::string key_as_name = json{{"name", ca.key_pem}}.dump();
  Secret k;
  CHECK(ak_pki_request_create(&doc.p, &k.p, key_as_name.c_str(), nullptr) == AK_INVALID_ARGUMENT);
  failures.emplace_back(ak_last_error());
  CHECK(failures.back().rfind("request.name: ", 0) == 0);
  // Handed to the verifier as the peer's certificate: a rejection whose message is clean too.
  REQUIRE(ak_pki_verify(&doc.p, member_key.c_str(), ca.certificate_pem.c_str(),
                        R"({"expected_name": "a.example.com"})", nullptr) == AK_OK);
  const std::string verdict = doc.str();
  CHECK(json::parse(verdict).at("reason") == "malformed");

  REQUIRE(ak_set_host_hooks(nullptr) == AK_OK);
  CHECK(failures.size() == 8);
  for (const std::string& message : failures) {
    INFO(message);
    CHECK_FALSE(message.empty());
    CHECK_FALSE(ContainsKeyMaterial(message, ca.key_pem));
    CHECK_FALSE(ContainsKeyMaterial(message, other.key_pem));
    CHECK_FALSE(ContainsKeyMaterial(message, member_key));
  }
  CHECK_FALSE(ContainsKeyMaterial(verdict, member_key));
  CHECK(log.lines.size() >= 8);
  for (const std::string& line : log.lines) {
    INFO(line);
    CHECK_FALSE(ContainsKeyMaterial(line, ca.key_pem));
    CHECK_FALSE(ContainsKeyMaterial(line, other.key_pem));
    CHECK_FALSE(ContainsKeyMaterial(line, member_key));
  }
}

TEST_CASE("ak_free_secret accepts NULL and wipes the key before releasing it") {
  ak_free_secret(nullptr);
  Owned doc;
  char* key = nullptr;
  REQUIRE(ak_pki_request_create(&doc.p, &key, R"({"name": "a.example.com"})", nullptr) == AK_OK);
  REQUIRE(key != nullptr);
  const std::size_t size = std::strlen(key);
  REQUIRE(size > 100);
#if defined(ARRAYKIT_OBSERVE_FREE)
  REQUIRE(size < sizeof(released_bytes));
  watched_size = size;
  watched_released = false;
  watched_pointer = key;
  ak_free_secret(key);
  REQUIRE(watched_released.load());
  const std::string released(released_bytes, size);
  CHECK(released == std::string(size, '\0'));
  // Control: plain ak_free() hands the key to free() intact — which is why keys need the other.
  Owned doc2;
  char* plain = nullptr;
  REQUIRE(ak_pki_request_create(&doc2.p, &plain, R"({"name": "b.example.com"})", nullptr) == AK_OK);
  watched_size = std::strlen(plain);
  watched_released = false;
  watched_pointer = plain;
  ak_free(plain);
  REQUIRE(watched_released.load());
  CHECK(std::string(released_bytes, watched_size).rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
#else
  ak_free_secret(key);
#endif
}

TEST_CASE("truststore inspection lists the CAs with their fingerprints") {
  Ca a = MakeCa(R"({"common_name": "old CA"})");
  Ca b = MakeCa(R"({"common_name": "new CA"})");
  Owned doc;
  const std::string bundle = "subject=CN = old CA\n" + a.certificate_pem + b.certificate_pem;
  REQUIRE(ak_pki_truststore_inspect(&doc.p, bundle.c_str(), nullptr) == AK_OK);
  json list = json::parse(doc.str());
  REQUIRE(list.size() == 2);
  CHECK(list[0].at("subject") == "CN=old CA");
  CHECK(list[0].at("fingerprint_sha256") == a.info.at("fingerprint_sha256"));
  CHECK(list[1].at("subject") == "CN=new CA");
  Owned refused;
  CHECK(ak_pki_truststore_inspect(&refused.p, "", nullptr) == AK_INVALID_ARGUMENT);
}

TEST_CASE("rotation plans through the C ABI") {
  const char* array = R"({"members": [
      {"name": "boston.example.com", "roles": ["frontend", "backend"]},
      {"name": "newyork.example.com", "roles": ["frontend"]}],
      "primary": "boston.example.com"})";
  Owned doc;
  REQUIRE(ak_pki_plan(&doc.p, array, R"({"operation": "join", "member": "detroit.example.com"})",
                      nullptr) == AK_OK);
  json join = json::parse(doc.str());
  CHECK(join.at("plan") == "join");
  REQUIRE(join.at("steps").size() == 3);
  CHECK(join["steps"][0] ==
        json{{"step", "trust_ca"}, {"member", "detroit.example.com"}, {"ca", "current"}});
  CHECK(join["steps"][2].at("step") == "add_member");

  Owned leave;
  REQUIRE(ak_pki_plan(&leave.p, array, R"({"operation": "leave", "member": "newyork.example.com"})",
                      nullptr) == AK_OK);
  CHECK(json::parse(leave.str()).at("steps")[0].at("step") == "remove_member");

  Owned renewal;
  REQUIRE(ak_pki_plan(&renewal.p, array, R"({"operation": "renewal", "now": "2026-03-10T00:00:00Z",
      "ca": {"not_before": "2026-01-01T00:00:00Z", "not_after": "2031-01-01T00:00:00Z"},
      "certificates": [{"member": "boston.example.com", "not_before": "2026-01-01T00:00:00Z",
                        "not_after": "2026-04-01T00:00:00Z"},
                       {"member": "newyork.example.com", "not_before": "2026-02-20T00:00:00Z",
                        "not_after": "2026-05-21T00:00:00Z"}]})",
                      nullptr) == AK_OK);
  json renew = json::parse(renewal.str());
  REQUIRE(renew.at("steps").size() == 1);
  CHECK(renew["steps"][0] ==
        json{{"step", "issue_certificate"}, {"member", "boston.example.com"}, {"ca", "current"}});

  Owned bad;
  CHECK(ak_pki_plan(&bad.p, array, R"({"operation": "explode"})", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("operation.operation") != std::string::npos);
  CHECK(ak_pki_plan(&bad.p, array, R"({"operation": "join"})", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()) == "operation.member: is required");
  CHECK(ak_pki_plan(&bad.p, array, R"({"operation": "renewal", "ca": {"not_before": "x"}})",
                    nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("operation.ca.not_before") != std::string::npos);
  CHECK(ak_pki_plan(&bad.p, array, R"({"operation": "leave", "member": "boston.example.com"})",
                    nullptr) == AK_FAILED_PRECONDITION);
  CHECK(ak_pki_plan(&bad.p, array, R"({"operation": "join", "member": "boston.example.com"})",
                    nullptr) == AK_ALREADY_EXISTS);
  CHECK(bad.p == nullptr);
}

TEST_CASE("TLS policy checks cipher suite names") {
  Owned doc;
  REQUIRE(ak_pki_tls_policy(&doc.p, nullptr, nullptr) == AK_OK);
  json policy = json::parse(doc.str());
  CHECK(policy.at("tls13_suites").size() == 3);
  CHECK(policy.at("openssl_tls12_cipher_list").get<std::string>().find("ECDHE") !=
        std::string::npos);

  Owned chosen;
  REQUIRE(ak_pki_tls_policy(&chosen.p,
                            R"({"min_version": "1.2", "suites": ["ECDHE-RSA-AES128-GCM-SHA256"]})",
                            nullptr) == AK_OK);
  CHECK(json::parse(chosen.str()).at("tls12_suites") ==
        json::array({"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}));

  Owned refused;
  CHECK(ak_pki_tls_policy(&refused.p, R"({"suites": ["TLS_RSA_WITH_AES_128_CBC_SHA", "RC4-MD5"]})",
                          nullptr) == AK_INVALID_ARGUMENT);
  const std::string message = ak_last_error();
  CHECK(message.find("request.suites") != std::string::npos);
  CHECK(message.find("TLS_RSA_WITH_AES_128_CBC_SHA") != std::string::npos);
  CHECK(message.find("RC4-MD5") != std::string::npos);
  CHECK(message.find("TLS_AES_128_GCM_SHA256") != std::string::npos);  // names a safe choice
  CHECK(ak_pki_tls_policy(&refused.p, R"({"min_version": "1.0"})", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("request.min_version") != std::string::npos);
  CHECK(ak_pki_tls_policy(&refused.p, R"({"suites": "RC4"})", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("request.suites") != std::string::npos);
}

TEST_CASE("the C++ wrapper returns keys in a wiping holder and throws on errors") {
  arraykit::pki::KeyedDocument ca = arraykit::pki::create_ca(R"({"common_name": "wrapper CA"})");
  CHECK(json::parse(ca.json).at("certificate").at("subject") == "CN=wrapper CA");
  CHECK(ca.private_key_pem.size() > 100);
  arraykit::pki::KeyedDocument member =
      arraykit::pki::create_request(R"({"name": "boston.example.com"})");
  const std::string ca_pem = json::parse(ca.json).at("certificate_pem").get<std::string>();
  const std::string csr = json::parse(member.json).at("csr_pem").get<std::string>();
  json issued = json::parse(arraykit::pki::sign_csr(ca_pem, ca.private_key_pem, csr,
                                                    R"({"members": ["boston.example.com"]})"));
  json verdict =
      json::parse(arraykit::pki::verify(issued.at("certificate_pem").get<std::string>(), ca_pem,
                                        R"({"expected_name": "boston.example.com"})"));
  CHECK(verdict.at("valid") == true);

  arraykit::pki::SecretPem moved = std::move(member.private_key_pem);
  CHECK(member.private_key_pem.empty());
  CHECK_FALSE(moved.empty());
  moved.reset();
  CHECK(moved.empty());
  CHECK(std::string(moved.c_str()).empty());

  try {
    arraykit::pki::create_request(R"({"name": 5})");
    FAIL("no exception");
  } catch (const arraykit::Error& e) {
    CHECK(e.code() == AK_INVALID_ARGUMENT);
    CHECK(std::string(e.what()).find("request.name") != std::string::npos);
  }
}

TEST_CASE("an ak_ca handle signs like ak_pki_csr_sign, from several threads at once") {
  Ca ca = MakeCa();
  ak_ca* handle = nullptr;
  REQUIRE(ak_ca_open(&handle, ca.certificate_pem.c_str(), ca.key_pem.c_str()) == AK_OK);
  REQUIRE(handle != nullptr);

  Owned own;
  REQUIRE(ak_ca_certificate(&own.p, handle, nullptr) == AK_OK);
  CHECK(json::parse(own.str()).at("certificate_pem") == ca.certificate_pem);
  CHECK(json::parse(own.str()).at("certificate").at("fingerprint_sha256") ==
        ca.info.at("fingerprint_sha256"));

  auto [csr, member_key] = MakeRequest("newyork.example.com");
  std::vector<std::string> certificates(8);
  std::vector<ak_status> codes(certificates.size(), AK_INTERNAL);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < certificates.size(); ++i) {
    threads.emplace_back([&, i] {
      char* out = nullptr;
      codes[i] = ak_ca_sign_csr(&out, handle, csr.c_str(), kMembers, nullptr);
      if (out != nullptr) certificates[i] = json::parse(out).at("certificate_pem");
      ak_free(out);
    });
  }
  for (std::thread& t : threads) t.join();
  for (std::size_t i = 0; i < certificates.size(); ++i) {
    INFO(i);
    REQUIRE(codes[i] == AK_OK);
    CHECK(Verify(certificates[i], ca.certificate_pem,
                 R"({"expected_name": "newyork.example.com"})")
              .at("valid") == true);
  }
  CHECK(certificates[0] != certificates[1]);  // fresh serials

  // Refusals and bad options are those of ak_pki_csr_sign.
  Owned doc;
  CHECK(ak_ca_sign_csr(&doc.p, handle, csr.c_str(), R"({"members": ["boston.example.com"]})",
                       nullptr) == AK_PERMISSION_DENIED);
  CHECK(std::string(ak_last_error_reason()) == "not_a_member");
  CHECK(ak_ca_sign_csr(&doc.p, handle, csr.c_str(), "{}", nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("options.members") != std::string::npos);
  CHECK(ak_ca_sign_csr(&doc.p, handle, nullptr, kMembers, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("csr_pem") != std::string::npos);
  CHECK(ak_ca_sign_csr(&doc.p, nullptr, csr.c_str(), kMembers, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("ca") != std::string::npos);
  CHECK(ak_ca_certificate(&doc.p, nullptr, nullptr) == AK_INVALID_ARGUMENT);
  CHECK(doc.p == nullptr);
  ak_ca_close(handle);
  ak_ca_close(nullptr);
}

TEST_CASE("ak_ca_open refuses a key that is not the CA's, without echoing the key") {
  Ca ca = MakeCa();
  Ca other = MakeCa();
  ak_ca* handle = reinterpret_cast<ak_ca*>(&ca);  // must be reset to NULL on failure
  CHECK(ak_ca_open(&handle, ca.certificate_pem.c_str(), other.key_pem.c_str()) ==
        AK_INVALID_ARGUMENT);
  CHECK(handle == nullptr);
  CHECK_FALSE(ContainsKeyMaterial(ak_last_error(), other.key_pem));
  CHECK(ak_ca_open(&handle, ca.certificate_pem.c_str(), "not a key") == AK_INVALID_ARGUMENT);
  CHECK(ak_ca_open(&handle, nullptr, ca.key_pem.c_str()) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("ca_certificate_pem") != std::string::npos);
  CHECK(ak_ca_open(nullptr, ca.certificate_pem.c_str(), ca.key_pem.c_str()) ==
        AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("out_ca") != std::string::npos);
}

TEST_CASE("the C++ CertificateAuthority wraps the handle") {
  arraykit::pki::KeyedDocument created = arraykit::pki::create_ca();
  const std::string ca_pem = json::parse(created.json).at("certificate_pem");
  arraykit::pki::CertificateAuthority authority(ca_pem, created.private_key_pem);
  auto [csr, member_key] = MakeRequest("boston.example.com");
  json issued = json::parse(authority.sign(csr, R"({"members": ["boston.example.com"]})"));
  CHECK(issued.at("certificate").at("subject") == "CN=boston.example.com");
  CHECK(json::parse(authority.certificate()).at("certificate_pem") == ca_pem);
  arraykit::pki::CertificateAuthority moved = std::move(authority);
  CHECK_THROWS_AS(moved.sign(csr, "{}"), arraykit::Error);
  CHECK_THROWS_AS(arraykit::pki::CertificateAuthority(ca_pem, "junk"), arraykit::Error);
}

namespace {

// The status, reason and message of one call.
struct Outcome {
  ak_status code;
  std::string reason;
  std::string message;
};
template <typename Call>
Outcome Try(Call call) {
  const ak_status code = call();
  return {code, ak_last_error_reason(), ak_last_error()};
}

}  // namespace

TEST_CASE("PKI options documents are strict: a typo is unknown_field naming the right field") {
  Ca ca = MakeCa();
  auto [csr, key] = MakeRequest("newyork.example.com");
  const std::string cert = Issue(ca, csr);
  Owned doc;
  Secret secret;

  // The three typos of issue 8, each of which used to weaken a check silently.
  const Outcome revoked = Try([&] {
    return ak_pki_verify(&doc.p, cert.c_str(), ca.certificate_pem.c_str(),
                         R"({"expected_name": "newyork.example.com", "revoked_serial": ["01"]})",
                         nullptr);
  });
  CHECK(revoked.code == AK_INVALID_ARGUMENT);
  CHECK(revoked.reason == "unknown_field");
  CHECK(revoked.message ==
        "options.revoked_serial: unknown field (did you mean revoked_serials?)");
  CHECK(doc.p == nullptr);

  const Outcome expected = Try([&] {
    return ak_pki_csr_sign(&doc.p, ca.certificate_pem.c_str(), ca.key_pem.c_str(), csr.c_str(),
                           R"({"members": ["newyork.example.com"],
                               "expected_nmae": "boston.example.com"})",
                           nullptr);
  });
  CHECK(expected.code == AK_INVALID_ARGUMENT);
  CHECK(expected.reason == "unknown_field");
  CHECK(expected.message == "options.expected_nmae: unknown field (did you mean expected_name?)");

  const Outcome version = Try(
      [&] { return ak_pki_tls_policy(&doc.p, R"({"min_versoin": "1.3"})", nullptr); });
  CHECK(version.code == AK_INVALID_ARGUMENT);
  CHECK(version.reason == "unknown_field");
  CHECK(version.message == "request.min_versoin: unknown field (did you mean min_version?)");

  // Every other PKI options document too.
  struct Case {
    std::function<ak_status()> call;
    const char* message;
  };
  ak_ca* handle = nullptr;
  REQUIRE(ak_ca_open(&handle, ca.certificate_pem.c_str(), ca.key_pem.c_str()) == AK_OK);
  const char* array = R"({"members": [{"name": "boston.example.com", "roles": ["frontend",
      "backend"], "rack": "r1", "power": "p1", "address": "192.0.2.10", "address_static": true,
      "version": "1.0.0"}], "primary": "boston.example.com"})";
  const Case cases[] = {
      {[&] { return ak_pki_ca_create(&doc.p, &secret.p, R"({"lifetime_day": 30})", nullptr); },
       "options.lifetime_day: unknown field (did you mean lifetime_days?)"},
      {[&] {
         return ak_pki_request_create(&doc.p, &secret.p,
                                      R"({"name": "a.example.com", "key_typ": "rsa-2048"})",
                                      nullptr);
       },
       "request.key_typ: unknown field (did you mean key_type?)"},
      {[&] {
         return ak_ca_sign_csr(&doc.p, handle, csr.c_str(),
                               R"({"members": ["newyork.example.com"], "expected_nmae": "x"})",
                               nullptr);
       },
       "options.expected_nmae: unknown field (did you mean expected_name?)"},
      {[&] {
         return ak_pki_verify(&doc.p, cert.c_str(), ca.certificate_pem.c_str(),
                              R"({"expected_name": "newyork.example.com",
                                  "presented_chain": []})",
                              nullptr);
       },
       "options.presented_chain: unknown field"},
      {[&] {
         return ak_pki_plan(&doc.p, array, R"({"operation": "join", "membr": "x.example.com"})",
                            nullptr);
       },
       "operation.membr: unknown field (did you mean member?)"},
      {[&] {
         return ak_pki_plan(&doc.p, array,
                            R"({"operation": "leave", "member": "boston.example.com",
                                "now": "2026-01-01T00:00:00Z"})",
                            nullptr);
       },
       "operation.now: unknown field"},
      {[&] {
         return ak_pki_plan(&doc.p, array,
                            R"({"operation": "renewal", "ca": {"not_before":
                                "2026-01-01T00:00:00Z", "not_afterr": "2027-01-01T00:00:00Z"}})",
                            nullptr);
       },
       "operation.ca.not_afterr: unknown field (did you mean not_after?)"},
      {[&] { return ak_pki_tls_policy(&doc.p, R"({"suite": []})", nullptr); },
       "request.suite: unknown field (did you mean suites?)"},
  };
  for (const Case& c : cases) {
    const Outcome o = Try(c.call);
    INFO(o.message);
    CHECK(o.code == AK_INVALID_ARGUMENT);
    CHECK(o.reason == "unknown_field");
    CHECK(o.message.rfind(c.message, 0) == 0);
    CHECK(doc.p == nullptr);
  }
  // Duplicate keys are refused as well.
  const Outcome duplicate = Try([&] {
    return ak_pki_tls_policy(&doc.p, R"({"min_version": "1.3", "min_version": "1.2"})", nullptr);
  });
  CHECK(duplicate.code == AK_INVALID_ARGUMENT);
  CHECK(duplicate.reason == "duplicate_key");
  ak_ca_close(handle);
}

TEST_CASE("DER reaches the C ABI through ak_pki_certificate_pem, with its length") {
  Ca ca = MakeCa();
  auto [csr, key] = MakeRequest("newyork.example.com");
  const std::string cert = Issue(ca, csr);
  // The DER of the certificate, as `openssl x509 -outform DER` writes it (it holds NULs).
  std::string body;
  for (std::size_t pos = cert.find('\n') + 1; cert.compare(pos, 5, "-----") != 0;) {
    const std::size_t end = cert.find('\n', pos);
    body += cert.substr(pos, end - pos);
    pos = end + 1;
  }
  std::string der;
  {
    static const std::string kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned value = 0;
    int bits = 0;
    for (char c : body) {
      if (c == '=') break;
      value = (value << 6) | static_cast<unsigned>(kAlphabet.find(c));
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        der.push_back(static_cast<char>((value >> bits) & 0xFF));
      }
    }
  }
  REQUIRE(der.find('\0') != std::string::npos);

  Owned pem;
  REQUIRE(ak_pki_certificate_pem(&pem.p, der.data(), der.size()) == AK_OK);
  CHECK(pem.str() == cert);
  CHECK(Verify(pem.str(), ca.certificate_pem, R"({"expected_name": "newyork.example.com"})")
            .at("valid") == true);
  // PEM bytes are accepted too (one certificate).
  Owned again;
  REQUIRE(ak_pki_certificate_pem(&again.p, cert.data(), cert.size()) == AK_OK);
  CHECK(again.str() == cert);

  Owned none;
  const std::string trailing = der + std::string("\0\0", 2);
  Outcome o = Try([&] { return ak_pki_certificate_pem(&none.p, trailing.data(), trailing.size()); });
  CHECK(o.code == AK_INVALID_ARGUMENT);
  CHECK(o.reason == "malformed");
  CHECK(o.message == "der: certificate: 2 trailing bytes after the DER");
  const std::string two = cert + cert;
  o = Try([&] { return ak_pki_certificate_pem(&none.p, two.data(), two.size()); });
  CHECK(o.reason == "malformed");
  CHECK(o.message == "der: certificate: more than one PEM block; exactly one is accepted");
  o = Try([&] { return ak_pki_certificate_pem(&none.p, der.data(), der.size() - 1); });
  CHECK(o.reason == "malformed");
  o = Try([&] { return ak_pki_certificate_pem(&none.p, nullptr, 10); });
  CHECK(o.code == AK_INVALID_ARGUMENT);
  CHECK(o.message == "der: must not be NULL");
  o = Try([&] { return ak_pki_certificate_pem(nullptr, der.data(), der.size()); });
  CHECK(o.code == AK_INVALID_ARGUMENT);
  CHECK(none.p == nullptr);

  // The C++ wrapper carries the length too.
  CHECK(arraykit::pki::certificate_pem(der) == cert);
}

TEST_CASE("PKI strictness through the C ABI: one certificate, real CAs, DNS names, CA lifetime") {
  Ca ca = MakeCa();
  auto [csr, key] = MakeRequest("newyork.example.com");
  const std::string cert = Issue(ca, csr);
  Owned doc;
  Secret secret;

  // A presented input holding two certificates is a rejection: malformed.
  json two = Verify(cert + cert, ca.certificate_pem, R"({"expected_name": "newyork.example.com"})");
  CHECK(two.at("valid") == false);
  CHECK(two.at("reason") == "malformed");
  // A leaf given as the trusted CA is bad input with its reason.
  Outcome o = Try([&] {
    return ak_pki_verify(&doc.p, cert.c_str(), cert.c_str(),
                         R"({"expected_name": "newyork.example.com"})", nullptr);
  });
  CHECK(o.code == AK_INVALID_ARGUMENT);
  CHECK(o.reason == "not_a_ca");
  CHECK(o.message.rfind("trusted_ca_pem[0]: not a CA certificate", 0) == 0);
  // The CA's own certificate presented as a peer: bad_key_usage.
  json ca_as_peer = Verify(ca.certificate_pem, ca.certificate_pem,
                           R"({"expected_name": "newyork.example.com"})");
  CHECK(ca_as_peer.at("reason") == "bad_key_usage");

  // IP literals are never peer names: not requested, not signed for, not expected.
  o = Try([&] {
    return ak_pki_request_create(&doc.p, &secret.p, R"({"name": "10.0.0.1"})", nullptr);
  });
  CHECK(o.code == AK_INVALID_ARGUMENT);
  CHECK(o.reason == "name_not_fqdn");
  CHECK(o.message.rfind("request.name: ", 0) == 0);
  o = Try([&] {
    return ak_pki_csr_sign(&doc.p, ca.certificate_pem.c_str(), ca.key_pem.c_str(), csr.c_str(),
                           R"({"members": ["10.0.0.1"]})", nullptr);
  });
  CHECK(o.reason == "name_not_fqdn");
  CHECK(o.message.rfind("options.members[0]: ", 0) == 0);
  o = Try([&] {
    return ak_pki_verify(&doc.p, cert.c_str(), ca.certificate_pem.c_str(),
                         R"({"expected_name": "10.0.0.1"})", nullptr);
  });
  CHECK(o.code == AK_INVALID_ARGUMENT);
  CHECK(o.reason == "name_not_fqdn");

  // A certificate that would outlive the CA: refused with the CA's expiry, not shortened.
  Ca short_ca = MakeCa(R"({"lifetime_days": 30, "now": "2026-01-01T00:00:00Z"})");
  o = Try([&] {
    return ak_pki_csr_sign(&doc.p, short_ca.certificate_pem.c_str(), short_ca.key_pem.c_str(),
                           csr.c_str(),
                           R"({"members": ["newyork.example.com"], "now": "2026-01-02T00:00:00Z"})",
                           nullptr);
  });
  CHECK(o.code == AK_FAILED_PRECONDITION);
  CHECK(o.reason == "outlives_ca");
  CHECK(o.message.find("2026-01-31T00:00:00") != std::string::npos);
  CHECK(doc.p == nullptr);
  // Exactly to the CA's notAfter is fine; the CA still signs at its last second.
  REQUIRE(ak_pki_csr_sign(&doc.p, short_ca.certificate_pem.c_str(), short_ca.key_pem.c_str(),
                          csr.c_str(),
                          R"({"members": ["newyork.example.com"], "lifetime_days": 1,
                              "now": "2026-01-30T00:00:00Z"})",
                          nullptr) == AK_OK);
  CHECK(json::parse(doc.str()).at("certificate").at("not_after").get<std::string>().rfind("2026-01-31T00:00:00", 0) == 0);
  ak_free(doc.p);
  doc.p = nullptr;
  o = Try([&] {
    return ak_pki_csr_sign(&doc.p, short_ca.certificate_pem.c_str(), short_ca.key_pem.c_str(),
                           csr.c_str(),
                           R"({"members": ["newyork.example.com"], "lifetime_days": 1,
                               "now": "2026-01-31T00:00:01Z"})",
                           nullptr);
  });
  CHECK(o.reason == "ca_expired");
}

TEST_CASE("PKI calls accept ak_json_options versions 1..current and refuse newer ones") {
  Owned doc;
  for (unsigned version = 1; version <= AK_JSON_OPTIONS_VERSION; ++version) {
    ak_json_options opts;
    REQUIRE(ak_json_options_init(&opts, version) == AK_OK);
    CHECK(ak_pki_tls_policy(&doc.p, nullptr, &opts) == AK_OK);
    ak_free(doc.p);
    doc.p = nullptr;
  }
  ak_json_options newer = AK_JSON_OPTIONS_INIT;
  newer.version = AK_JSON_OPTIONS_VERSION + 1;
  CHECK(ak_pki_tls_policy(&doc.p, nullptr, &newer) == AK_INVALID_ARGUMENT);
  CHECK(std::string(ak_last_error()).find("opts.version") != std::string::npos);
  CHECK(doc.p == nullptr);
}
