#include "capi/status_map.h"

#include "core/status.h"

namespace arraykit::capi {
namespace {

ak_status FromErrorCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotPrimary:
      return AK_ENOTPRIMARY;
    case ErrorCode::kClockSkew:
      return AK_ECLOCKSKEW;
    case ErrorCode::kVersionMismatch:
      return AK_EVERSION;
    case ErrorCode::kFingerprintMismatch:
      return AK_EFINGERPRINT;
    case ErrorCode::kBusy:
      return AK_EBUSY;
    case ErrorCode::kCertificateRejected:
      return AK_ECERT_REJECTED;
  }
  return AK_UNKNOWN;
}

}  // namespace

ak_status ToAkStatus(const absl::Status& status) {
  if (std::optional<ErrorCode> own = GetErrorCode(status); own.has_value()) {
    return FromErrorCode(*own);
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return AK_OK;
    case absl::StatusCode::kCancelled:
      return AK_CANCELLED;
    case absl::StatusCode::kUnknown:
      return AK_UNKNOWN;
    case absl::StatusCode::kInvalidArgument:
      return AK_INVALID_ARGUMENT;
    case absl::StatusCode::kDeadlineExceeded:
      return AK_DEADLINE_EXCEEDED;
    case absl::StatusCode::kNotFound:
      return AK_NOT_FOUND;
    case absl::StatusCode::kAlreadyExists:
      return AK_ALREADY_EXISTS;
    case absl::StatusCode::kPermissionDenied:
      return AK_PERMISSION_DENIED;
    case absl::StatusCode::kResourceExhausted:
      return AK_RESOURCE_EXHAUSTED;
    case absl::StatusCode::kFailedPrecondition:
      return AK_FAILED_PRECONDITION;
    case absl::StatusCode::kAborted:
      return AK_ABORTED;
    case absl::StatusCode::kOutOfRange:
      return AK_OUT_OF_RANGE;
    case absl::StatusCode::kUnimplemented:
      return AK_UNIMPLEMENTED;
    case absl::StatusCode::kInternal:
      return AK_INTERNAL;
    case absl::StatusCode::kUnavailable:
      return AK_UNAVAILABLE;
    case absl::StatusCode::kDataLoss:
      return AK_DATA_LOSS;
    case absl::StatusCode::kUnauthenticated:
      return AK_UNAUTHENTICATED;
    default:
      return AK_UNKNOWN;
  }
}

}  // namespace arraykit::capi
