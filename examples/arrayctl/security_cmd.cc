// arrayctl security ca create | peerca --show | cert request | cert issue | verify
//
// Private keys are written with mode 0600 from the moment the file exists (open(O_EXCL, 0600)),
// never printed, and the copies this process holds are wiped after use.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "arrayctl/cli.h"
#include "arrayctl/commands.h"
#include "arraykit/arraykit.hpp"

namespace arrayctl {
namespace {

using nlohmann::json;

constexpr mode_t kPublicFileMode = 0644;
constexpr mode_t kKeyFileMode = 0600;

// A key read from a file: wiped when it goes out of scope.
class KeyText {
 public:
  explicit KeyText(std::string text) : text_(std::move(text)) {}
  KeyText(const KeyText&) = delete;
  KeyText& operator=(const KeyText&) = delete;
  ~KeyText() {
    volatile char* p = text_.data();
    for (std::size_t i = 0; i < text_.size(); ++i) p[i] = '\0';
  }
  const char* c_str() const { return text_.c_str(); }

 private:
  std::string text_;
};

std::string ErrnoText() { return std::strerror(errno); }

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// Creates `dir` (one level, mode 0700: it will hold a private key) unless it exists.
void EnsureDirectory(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw UsageError(dir + " exists and is not a directory");
    return;
  }
  if (mkdir(dir.c_str(), 0700) != 0) {
    throw UsageError("cannot create directory " + dir + ": " + ErrnoText());
  }
}

// Refuses before anything is written, so a refused command leaves no half-made set of files.
void CheckWritable(const std::vector<std::string>& paths, bool force) {
  for (const std::string& path : paths) {
    if (!force && Exists(path)) {
      throw UsageError(path + " already exists; refusing to overwrite it (use --force)");
    }
  }
}

// Writes a new file with `mode` set at creation (O_EXCL), so a key is never readable by others,
// not even for an instant. With `force` an existing file is removed first.
void WriteNewFile(const std::string& path, const char* data, std::size_t size, mode_t mode,
                  bool force) {
  if (force && unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw std::runtime_error("cannot replace " + path + ": " + ErrnoText());
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      throw UsageError(path + " already exists; refusing to overwrite it (use --force)");
    }
    throw UsageError("cannot create " + path + ": " + ErrnoText());
  }
  std::size_t written = 0;
  while (written < size) {
    ssize_t n = write(fd, data + written, size - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = ErrnoText();
      close(fd);
      unlink(path.c_str());
      throw std::runtime_error("cannot write " + path + ": " + why);
    }
    written += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    std::string why = ErrnoText();
    unlink(path.c_str());
    throw std::runtime_error("cannot write " + path + ": " + why);
  }
}

void WriteNewFile(const std::string& path, const std::string& text, mode_t mode, bool force) {
  WriteNewFile(path, text.data(), text.size(), mode, force);
}

// Reads a file given on the command line: a directory, a missing or unreadable file is bad
// input (exit 2) with reason `unreadable_file`, never an empty certificate.
std::string ReadFile(const std::string& path) {
  if (path != "-") {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      throw arraykit::Error(AK_INVALID_ARGUMENT, "cannot read " + path + ": " + ErrnoText(),
                            "unreadable_file");
    }
    if (!S_ISREG(st.st_mode)) {
      throw arraykit::Error(AK_INVALID_ARGUMENT,
                            "cannot read " + path + ": " +
                                (S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file"),
                            "unreadable_file");
    }
  }
  try {
    return ReadInput(path);
  } catch (const UsageError& e) {
    throw arraykit::Error(AK_INVALID_ARGUMENT, e.what(), "unreadable_file");
  }
}

// Certificate files may be PEM or DER; DER reaches the library through its length-carrying
// conversion (ak_pki_certificate_pem), never as a C string.
bool LooksLikePem(const std::string& bytes) {
  return bytes.find("-----BEGIN ") != std::string::npos;
}

std::string CertificateFileAsPem(const std::string& bytes) {
  return LooksLikePem(bytes) ? bytes : arraykit::pki::certificate_pem(bytes);
}

std::string RequiredValue(const Args& args, const std::string& flag) {
  std::optional<std::string> value = args.Value(flag);
  if (!value || value->empty()) throw UsageError("missing " + flag);
  return *value;
}

void NoPositionals(const Args& args) {
  if (!args.Positionals().empty()) throw UsageError("unexpected argument " + args.Positionals()[0]);
}

// --lifetime-days N as a JSON integer; the library checks the range.
void AddLifetime(const Args& args, json& options) {
  std::optional<std::string> days = args.Value("--lifetime-days");
  if (!days) return;
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(*days, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != days->size()) {
    throw UsageError("--lifetime-days must be a whole number of days, got '" + *days + "'");
  }
  options["lifetime_days"] = value;
}

// Library messages name document fields; an operator typed flags.
[[noreturn]] void RethrowWithFlags(const arraykit::Error& e,
                                   const std::vector<std::pair<std::string, std::string>>& map) {
  std::string message = e.what();
  for (const auto& [field, flag] : map) {
    if (message.rfind(field, 0) == 0) {
      message = flag + message.substr(field.size());
      break;
    }
  }
  throw arraykit::Error(e.code(), message, e.reason());
}

std::string ExpiryNote(const std::string& not_after) {
  // RFC 3339 UTC strings compare in time order.
  char now[32];
  std::time_t t = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&t, &utc);
  std::strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", &utc);
  return not_after.substr(0, 19) < std::string(now) ? "  (EXPIRED)" : "";
}

// The line `openssl x509 -noout -fingerprint -sha256` prints (OpenSSL 3 spelling).
std::string FingerprintLine(const json& info) {
  return "sha256 Fingerprint=" + info.value("fingerprint_sha256", "");
}

void PrintCertificate(const json& info, const std::string& indent) {
  std::cout << indent << "subject:      " << info.value("subject", "") << "\n"
            << indent << "issuer:       " << info.value("issuer", "") << "\n"
            << indent << "key:          " << info.value("key", "") << "\n"
            << indent << "serial:       " << info.value("serial", "") << "\n"
            << indent << "not before:   " << info.value("not_before", "") << "\n"
            << indent << "not after:    " << info.value("not_after", "")
            << ExpiryNote(info.value("not_after", "")) << "\n"
            << indent << FingerprintLine(info) << "\n";
}

// ---- security ca create ----------------------------------------------------------------------

int CaCreate(const std::vector<std::string>& argv) {
  Args args(argv, {"--json", "--force"}, {"--out-dir", "--key-type", "--lifetime-days", "--name"});
  NoPositionals(args);
  const std::string dir = RequiredValue(args, "--out-dir");
  const bool force = args.Has("--force");
  json options = json::object();
  if (auto type = args.Value("--key-type")) options["key_type"] = *type;
  if (auto name = args.Value("--name")) options["common_name"] = *name;
  AddLifetime(args, options);

  const std::string cert_path = JoinPath(dir, "ca.pem");
  const std::string key_path = JoinPath(dir, "ca.key");
  EnsureDirectory(dir);
  CheckWritable({cert_path, key_path}, force);
  arraykit::pki::KeyedDocument ca;
  try {
    ca = arraykit::pki::create_ca(options.dump());
  } catch (const arraykit::Error& e) {
    RethrowWithFlags(e, {{"options.key_type", "--key-type"},
                         {"options.common_name", "--name"},
                         {"options.lifetime_days", "--lifetime-days"}});
  }
  const json doc = json::parse(ca.json);
  WriteNewFile(key_path, ca.private_key_pem.c_str(), ca.private_key_pem.size(), kKeyFileMode,
               force);
  ca.private_key_pem.reset();
  WriteNewFile(cert_path, doc.at("certificate_pem").get<std::string>(), kPublicFileMode, force);

  const json& info = doc.at("certificate");
  if (args.Has("--json")) {
    std::cout << json{{"certificate", info},
                      {"certificate_file", cert_path},
                      {"private_key_file", key_path}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "Created the array CA in " << dir << "\n";
    PrintCertificate(info, "  ");
    std::cout << "  certificate:  " << cert_path << " (mode 0644)\n"
              << "  private key:  " << key_path << " (mode 0600; keep it on the primary)\n";
  }
  return kExitOk;
}

// ---- security peerca --show ------------------------------------------------------------------

int PeerCaShow(const std::vector<std::string>& argv) {
  Args args(argv, {"--show", "--json"}, {"--truststore", "--ca"});
  NoPositionals(args);
  if (!args.Has("--show")) throw UsageError("missing --show");
  std::optional<std::string> truststore = args.Value("--truststore");
  std::optional<std::string> ca = args.Value("--ca");
  if (truststore.has_value() == ca.has_value()) {
    throw UsageError("give exactly one of --truststore FILE and --ca FILE");
  }
  const std::string path = truststore ? *truststore : *ca;
  json list;
  try {
    const std::string text = CertificateFileAsPem(ReadFile(path));
    list = json::parse(arraykit::pki::inspect_truststore(text));
  } catch (const arraykit::Error& e) {
    RethrowWithFlags(e, {{"ca_certificates_pem", path}});
  }
  if (args.Has("--json")) {
    std::cout << list.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "Trusted CA certificates in " << path << ": " << list.size() << "\n";
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& entry = list[i];
    std::cout << "\n[" << i + 1 << "]\n"
              << "  subject:      " << entry.value("subject", "") << "\n"
              << "  serial:       " << entry.value("serial", "") << "\n"
              << "  not before:   " << entry.value("not_before", "") << "\n"
              << "  expires:      " << entry.value("not_after", "")
              << ExpiryNote(entry.value("not_after", "")) << "\n"
              << "  " << FingerprintLine(entry) << "\n";
  }
  std::cout << "\nCompare the fingerprint with the one the primary shows before confirming a "
               "join.\n";
  return kExitOk;
}

// ---- security cert request -------------------------------------------------------------------

int CertRequest(const std::vector<std::string>& argv) {
  Args args(argv, {"--json", "--force"}, {"--name", "--out-dir", "--key-type"});
  NoPositionals(args);
  const std::string name = RequiredValue(args, "--name");
  const std::string dir = RequiredValue(args, "--out-dir");
  const bool force = args.Has("--force");
  json request{{"name", name}};
  if (auto type = args.Value("--key-type")) request["key_type"] = *type;

  arraykit::pki::KeyedDocument made;
  try {
    made = arraykit::pki::create_request(request.dump());
  } catch (const arraykit::Error& e) {
    RethrowWithFlags(e, {{"request.name", "--name"}, {"request.key_type", "--key-type"}});
  }
  const json doc = json::parse(made.json);
  const std::string normalized = doc.at("name").get<std::string>();
  const std::string key_path = JoinPath(dir, normalized + ".key");
  const std::string csr_path = JoinPath(dir, normalized + ".csr");
  EnsureDirectory(dir);
  CheckWritable({key_path, csr_path}, force);
  WriteNewFile(key_path, made.private_key_pem.c_str(), made.private_key_pem.size(), kKeyFileMode,
               force);
  made.private_key_pem.reset();
  WriteNewFile(csr_path, doc.at("csr_pem").get<std::string>(), kPublicFileMode, force);

  if (args.Has("--json")) {
    std::cout << json{{"name", normalized},
                      {"key_type", doc.at("key_type")},
                      {"csr_file", csr_path},
                      {"private_key_file", key_path}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "Created a member key (" << doc.at("key_type").get<std::string>()
              << ") and a CSR for " << normalized << "\n"
              << "  CSR:          " << csr_path << " (send it to the primary)\n"
              << "  private key:  " << key_path << " (mode 0600; it never leaves this member)\n";
  }
  return kExitOk;
}

// ---- security cert issue ---------------------------------------------------------------------

// A list flag (--members, --revoked): a file (a JSON list of names, an array description, or
// names separated by commas, spaces or new lines) or a comma-separated list.
std::vector<std::string> ListValue(const std::string& flag, const std::string& value) {
  std::string text = value;
  bool from_file = Exists(value);
  if (from_file) {
    text = ReadInput(value);
  } else if (value.find('/') != std::string::npos) {
    throw UsageError("cannot read " + flag + " file " + value);
  }
  std::vector<std::string> names;
  if (from_file) {
    json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_discarded()) {
      const json& list = doc.is_object() ? doc.value("members", json::array()) : doc;
      if (!list.is_array()) throw UsageError(flag + " " + value + ": expected a list of names");
      for (const json& entry : list) {
        if (entry.is_string()) {
          names.push_back(entry.get<std::string>());
        } else if (entry.is_object() && entry.contains("name") && entry["name"].is_string()) {
          names.push_back(entry["name"].get<std::string>());
        } else {
          throw UsageError(flag + " " + value +
                           ": every entry must be a string or have a \"name\"");
        }
      }
      return names;
    }
  }
  std::string current;
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      if (!current.empty()) names.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) names.push_back(current);
  if (names.empty()) throw UsageError(flag + " is empty");
  return names;
}

int CertIssue(const std::vector<std::string>& argv) {
  Args args(argv, {"--json", "--force"},
            {"--ca-dir", "--csr", "--name", "--members", "--out", "--lifetime-days"});
  NoPositionals(args);
  const std::string ca_dir = RequiredValue(args, "--ca-dir");
  const std::string csr_path = RequiredValue(args, "--csr");
  const std::string name = RequiredValue(args, "--name");
  const std::string members = RequiredValue(args, "--members");
  const std::string out_path = RequiredValue(args, "--out");
  const bool force = args.Has("--force");

  json options{{"members", ListValue("--members", members)}, {"expected_name", name}};
  AddLifetime(args, options);
  const std::string ca_pem = ReadFile(JoinPath(ca_dir, "ca.pem"));
  const std::string key_path = JoinPath(ca_dir, "ca.key");
  // As ssh refuses an unprotected key: a CA key others can read is not used.
  struct stat st;
  if (stat(key_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 0777));
    throw arraykit::Error(AK_INVALID_ARGUMENT,
                          key_path + " is readable by group or others (mode " + mode +
                              "); the CA key is refused until it is protected: chmod 600 " +
                              key_path,
                          "unprotected_key_file");
  }
  const KeyText ca_key(ReadFile(key_path));
  const std::string csr = ReadFile(csr_path);
  CheckWritable({out_path}, force);

  json issued;
  try {
    issued = json::parse(arraykit::pki::sign_csr(ca_pem, ca_key.c_str(), csr, options.dump()));
  } catch (const arraykit::Error& e) {
    // The CA refused the request (AK_PERMISSION_DENIED) or cannot sign it
    // (AK_FAILED_PRECONDITION: expired, or the certificate would outlive it): a rejection with
    // its reason, not bad input.
    if (e.code() == AK_PERMISSION_DENIED || e.code() == AK_FAILED_PRECONDITION) {
      if (args.Has("--json")) {
        std::cout << json{{"issued", false}, {"reason", e.reason()}, {"message", e.what()}}.dump(2)
                  << "\n";
      } else {
        std::cout << "rejected: " << e.reason() << ": " << e.what() << "\n";
      }
      return kExitFindings;
    }
    RethrowWithFlags(e, {{"options.members", "--members"},
                         {"options.expected_name", "--name"},
                         {"options.lifetime_days", "--lifetime-days"},
                         {"ca_certificate_pem/ca_private_key_pem", ca_dir}});
  }
  WriteNewFile(out_path, issued.at("certificate_pem").get<std::string>(), kPublicFileMode, force);
  const json& info = issued.at("certificate");
  if (args.Has("--json")) {
    std::cout << json{{"issued", true}, {"certificate", info}, {"certificate_file", out_path}}.dump(
                     2)
              << "\n";
  } else {
    std::cout << "Issued a peer certificate for " << name << "\n";
    PrintCertificate(info, "  ");
    std::cout << "  certificate:  " << out_path << "\n";
  }
  return kExitOk;
}

// ---- security verify -------------------------------------------------------------------------

// Exactly {"valid": ..., "reason": ..., "message": ...}, in that order (DESIGN.md §6).
std::string VerdictJson(const json& result) {
  return "{\"valid\": " + result.at("valid").dump() +
         ", \"reason\": " + result.value("reason", json()).dump() + ", \"message\": " +
         result.value("message", json("")).dump(-1, ' ', false, json::error_handler_t::replace) +
         "}";
}

int Verify(const std::vector<std::string>& argv) {
  Args args(argv, {"--json"}, {"--cert", "--ca", "--name", "--role", "--at", "--revoked"});
  NoPositionals(args);
  const std::string cert_path = RequiredValue(args, "--cert");
  const std::string ca_path = RequiredValue(args, "--ca");
  const std::string name = RequiredValue(args, "--name");
  json options{{"expected_name", name}};
  if (auto role = args.Value("--role")) {
    if (*role != "server" && *role != "client") {
      throw UsageError("--role must be server or client, got '" + *role + "'");
    }
    options["role"] = *role;
  }
  if (auto at = args.Value("--at")) options["at"] = *at;
  if (auto revoked = args.Value("--revoked"))
    options["revoked_serials"] = ListValue("--revoked", *revoked);
  const std::string presented = ReadFile(cert_path);
  const std::string trusted_bytes = ReadFile(ca_path);

  json result;
  try {
    const std::string trusted = CertificateFileAsPem(trusted_bytes);
    std::string certificate;
    try {
      certificate = CertificateFileAsPem(presented);
    } catch (const arraykit::Error& e) {
      // DER that is not exactly one certificate: what a peer presented, so a rejection.
      if (e.reason() != "malformed") throw;
      result = {{"valid", false}, {"reason", "malformed"}, {"message", e.what()}};
    }
    if (result.is_null()) {
      result = json::parse(arraykit::pki::verify(certificate, trusted, options.dump()));
    }
  } catch (const arraykit::Error& e) {
    RethrowWithFlags(e, {{"options.expected_name", "--name"},
                         {"options.at", "--at"},
                         {"options.revoked_serials", "--revoked"},
                         {"trusted_ca_pem", "--ca " + ca_path},
                         {"der", "--ca " + ca_path}});
  }
  const bool valid = result.at("valid").get<bool>();
  if (args.Has("--json")) {
    std::cout << VerdictJson(result) << "\n";
  } else if (valid) {
    std::cout << "valid: " << result.value("message", "") << "\n";
  } else {
    std::cout << "rejected: " << result.value("reason", "") << ": " << result.value("message", "")
              << "\n";
  }
  return valid ? kExitOk : kExitFindings;
}

}  // namespace

void RegisterSecurityCommands(std::vector<Command>& commands) {
  commands.push_back(
      {{"security", "ca", "create"},
       "--out-dir D [--key-type ec-p256|ec-p384|rsa-2048|rsa-3072] [--lifetime-days N] "
       "[--name CN] [--force] [--json]",
       "create the array's CA: D/ca.pem (0644) and D/ca.key (0600)",
       CaCreate});
  commands.push_back({{"security", "peerca"},
                      "--show --truststore FILE | --ca FILE [--json]",
                      "show trusted CA certificates: subject, expiry, SHA-256 fingerprint",
                      PeerCaShow});
  commands.push_back({{"security", "cert", "request"},
                      "--name N --out-dir D [--key-type T] [--force] [--json]",
                      "make a member key (D/N.key, 0600) and its CSR (D/N.csr)",
                      CertRequest});
  commands.push_back({{"security", "cert", "issue"},
                      "--ca-dir D --csr F --name N --members FILE_OR_COMMA_LIST --out F "
                      "[--lifetime-days N] [--force] [--json]",
                      "sign a member's CSR with the CA in D (exit 1: the CA refused it)",
                      CertIssue});
  commands.push_back({{"security", "verify"},
                      "--cert F --ca F --name N [--role client|server] [--at RFC3339] "
                      "[--revoked SERIALS] [--json]",
                      "verify a peer certificate (exit 0 valid, 1 rejected, 2 bad input)",
                      Verify});
}

}  // namespace arrayctl
