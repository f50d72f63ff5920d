// SecretString: a byte buffer for private key material that is wiped when released.
//
// Private keys leave the PKI module only as PEM for the member's own store (DESIGN.md §6). This
// type keeps that PEM out of std::string, whose reallocations would leave stray copies, and it
// has no streaming or formatting support so it cannot end up in a log line or a JSON document
// by accident. Copies are explicit (Clone()).
#ifndef ARRAYKIT_CORE_PKI_SECRET_H_
#define ARRAYKIT_CORE_PKI_SECRET_H_

#include <cstddef>
#include <memory>
#include <string_view>

namespace arraykit::pki {

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string_view data);
  ~SecretString();

  SecretString(SecretString&& other) noexcept;
  SecretString& operator=(SecretString&& other) noexcept;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;

  // An explicit copy, for the few places that must hold the secret twice.
  SecretString Clone() const { return SecretString(view()); }

  std::string_view view() const { return {data_.get(), size_}; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  void Wipe();

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

}  // namespace arraykit::pki

#endif  // ARRAYKIT_CORE_PKI_SECRET_H_
