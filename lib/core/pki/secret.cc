#include "core/pki/secret.h"

#include <openssl/crypto.h>

#include <cstring>
#include <utility>

namespace arraykit::pki {

SecretString::SecretString(std::string_view data) {
  if (data.empty()) return;
  data_ = std::make_unique<char[]>(data.size());
  std::memcpy(data_.get(), data.data(), data.size());
  size_ = data.size();
}

SecretString::~SecretString() { Wipe(); }

SecretString::SecretString(SecretString&& other) noexcept
    : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}

SecretString& SecretString::operator=(SecretString&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SecretString::Wipe() {
  // OPENSSL_cleanse is not optimized away, unlike a memset before free.
  if (data_ != nullptr) OPENSSL_cleanse(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

}  // namespace arraykit::pki
