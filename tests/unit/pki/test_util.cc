#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"

namespace arraykit::pki::testing {

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string templ = std::string(base != nullptr ? base : "/tmp") + "/pki_test_XXXXXX";
  char* made = mkdtemp(templ.data());
  REQUIRE(made != nullptr);
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  REQUIRE(out.good());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Run(const std::string& command, int* exit_code) {
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string MustRun(const std::string& command) {
  int code = 0;
  std::string out = Run(command, &code);
  INFO(command << "\n" << out);
  REQUIRE(code == 0);
  return out;
}

absl::Time TestNow() { return absl::FromUnixSeconds(1795000000); }  // 2026-11-18T...

void CliMakeCa(const TempDir& dir, const std::string& name, const std::string& subject,
               const std::string& key_spec) {
  MustRun("openssl req -x509 -newkey " + key_spec + " -nodes -keyout " + dir.File(name + ".key") +
          " -out " + dir.File(name + ".pem") + " -days 30 -subj '" + subject + "'" +
          " -addext basicConstraints=critical,CA:TRUE,pathlen:0" +
          " -addext keyUsage=critical,keyCertSign,cRLSign");
}

void CliMakeCsr(const TempDir& dir, const std::string& name, const std::string& subject,
                const std::string& key_spec, const std::string& extra) {
  MustRun("openssl req -new -newkey " + key_spec + " -nodes -keyout " + dir.File(name + ".key") +
          " -out " + dir.File(name + ".csr") + " -subj '" + subject + "' " + extra);
}

void CliSign(const TempDir& dir, const std::string& ca_name, const std::string& csr_name,
             const std::string& out, const std::string& extensions, const std::string& extra) {
  const std::string ext_file = dir.File(out + ".ext");
  WriteFile(ext_file, "[ext]\n" + extensions + "\n");
  MustRun("openssl x509 -req -in " + dir.File(csr_name + ".csr") + " -CA " +
          dir.File(ca_name + ".pem") + " -CAkey " + dir.File(ca_name + ".key") + " -set_serial 0x" +
          "7A3F00112233445566778899AABBCCDD" + " -days 30 -extfile " + ext_file +
          " -extensions ext -out " + dir.File(out + ".pem") + " " + extra);
}

std::string PeerExtensions(const std::string& name) {
  return "basicConstraints=critical,CA:FALSE\n"
         "keyUsage=critical,digitalSignature\n"
         "extendedKeyUsage=serverAuth,clientAuth\n"
         "subjectKeyIdentifier=hash\n"
         "authorityKeyIdentifier=keyid\n"
         "subjectAltName=DNS:" +
         name;
}

Issued IssuePeer(const CertificateAuthority& ca, const std::string& name, absl::Time now,
                 KeyType key_type, absl::Duration lifetime) {
  absl::StatusOr<SecretString> key = GeneratePrivateKey(key_type);
  REQUIRE(key.ok());
  absl::StatusOr<std::string> csr = CreateCsr(key->view(), name);
  INFO(csr.status().ToString());
  REQUIRE(csr.ok());
  PeerCertificateOptions options;
  options.member_names = {"boston.example.com", "newyork.example.com", "detroit.example.com",
                          "seattle.example.com", name};
  options.lifetime = lifetime;
  absl::StatusOr<std::string> cert = ca.SignPeerCsr(*csr, options, now);
  INFO(cert.status().ToString());
  REQUIRE(cert.ok());
  return Issued{*std::move(key), *std::move(cert)};
}

CertificateAuthority MakeCa(absl::Time now, const std::string& common_name, KeyType key_type) {
  CaOptions options;
  options.common_name = common_name;
  options.key_type = key_type;
  absl::StatusOr<CertificateAuthority> ca = CertificateAuthority::Create(options, now);
  INFO(ca.status().ToString());
  REQUIRE(ca.ok());
  return *std::move(ca);
}

std::string PemToDer(std::string_view pem) {
  std::string body;
  std::istringstream in{std::string(pem)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("-----", 0) == 0) continue;
    body += line;
  }
  std::string der;
  REQUIRE(absl::Base64Unescape(body, &der));
  return der;
}

std::string DerToPem(std::string_view der, std::string_view label) {
  std::string b64 = absl::Base64Escape(absl::string_view(der.data(), der.size()));
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

}  // namespace arraykit::pki::testing
