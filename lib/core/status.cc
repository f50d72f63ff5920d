#include "core/status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

namespace arraykit {
namespace {

constexpr absl::string_view kPayloadUrl = "type.arraykit.dev/arraykit.ErrorCode";
constexpr absl::string_view kReasonUrl = "type.arraykit.dev/arraykit.Reason";

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

absl::string_view WordOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotPrimary:
      return "not_primary";
    case ErrorCode::kClockSkew:
      return "clock_skew";
    case ErrorCode::kVersionMismatch:
      return "version_mismatch";
    case ErrorCode::kFingerprintMismatch:
      return "fingerprint_mismatch";
    case ErrorCode::kBusy:
      return "busy";
    case ErrorCode::kCertificateRejected:
      return "certificate_rejected";
  }
  return "unknown";
}

absl::string_view WordOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "";
    case absl::StatusCode::kCancelled:
      return "cancelled";
    case absl::StatusCode::kUnknown:
      return "unknown";
    case absl::StatusCode::kInvalidArgument:
      return "invalid_argument";
    case absl::StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case absl::StatusCode::kNotFound:
      return "not_found";
    case absl::StatusCode::kAlreadyExists:
      return "already_exists";
    case absl::StatusCode::kPermissionDenied:
      return "permission_denied";
    case absl::StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case absl::StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case absl::StatusCode::kAborted:
      return "aborted";
    case absl::StatusCode::kOutOfRange:
      return "out_of_range";
    case absl::StatusCode::kUnimplemented:
      return "unimplemented";
    case absl::StatusCode::kInternal:
      return "internal";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kDataLoss:
      return "data_loss";
    case absl::StatusCode::kUnauthenticated:
      return "unauthenticated";
    default:
      return "unknown";
  }
}

}  // namespace

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  if (!status.ok()) status.SetPayload(kReasonUrl, absl::Cord(reason));
  return status;
}

absl::Status MakeError(absl::StatusCode code, absl::string_view reason,
                       absl::string_view message) {
  return WithReason(absl::Status(code, message), reason);
}

std::string ReasonOf(const absl::Status& status) {
  if (status.ok()) return "";
  if (absl::optional<absl::Cord> reason = status.GetPayload(kReasonUrl); reason.has_value()) {
    return std::string(*reason);
  }
  if (std::optional<ErrorCode> own = GetErrorCode(status); own.has_value()) {
    return std::string(WordOf(*own));
  }
  return std::string(WordOf(status.code()));
}

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
