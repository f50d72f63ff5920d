// Proves the portability build really runs on BoringSSL: compiled against its headers and
// bound to its libcrypto at run time (not silently to OpenSSL 3, see TOOLCHAIN.md).
#include <openssl/crypto.h>

#include <catch2/catch.hpp>
#include <string>

#ifndef OPENSSL_IS_BORINGSSL
#error "tests/boringssl must compile against BoringSSL's headers"
#endif

TEST_CASE("the PKI module runs on BoringSSL", "[pki][boringssl]") {
  const std::string version = OpenSSL_version(OPENSSL_VERSION);
  INFO(version);
  CHECK(version.find("BoringSSL") != std::string::npos);
}
