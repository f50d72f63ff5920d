#include "core/status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

namespace arraykit {
namespace {

constexpr absl::string_view kPayloadUrl = "type.arraykit.dev/arraykit.ErrorCode";

absl::StatusCode CanonicalFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotPrimary:
      return absl::StatusCode::kFailedPrecondition;
    case ErrorCode::kClockSkew:
      return absl::StatusCode::kFailedPrecondition;
    case ErrorCode::kVersionMismatch:
      return absl::StatusCode::kFailedPrecondition;
    case ErrorCode::kFingerprintMismatch:
      return absl::StatusCode::kPermissionDenied;
    case ErrorCode::kBusy:
      return absl::StatusCode::kUnavailable;
    case ErrorCode::kCertificateRejected:
      return absl::StatusCode::kUnauthenticated;
  }
  return absl::StatusCode::kUnknown;
}

}  // namespace

absl::Status MakeError(ErrorCode code, absl::string_view message) {
  absl::Status status(CanonicalFor(code), message);
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(static_cast<int>(code))));
  return status;
}

std::optional<ErrorCode> GetErrorCode(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  int value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value)) return std::nullopt;
  switch (static_cast<ErrorCode>(value)) {
    case ErrorCode::kNotPrimary:
    case ErrorCode::kClockSkew:
    case ErrorCode::kVersionMismatch:
    case ErrorCode::kFingerprintMismatch:
    case ErrorCode::kBusy:
    case ErrorCode::kCertificateRejected:
      return static_cast<ErrorCode>(value);
  }
  return std::nullopt;
}

}  // namespace arraykit
