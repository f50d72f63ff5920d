// Error codes of arraykit beyond the canonical absl/gRPC numbering.
//
// The core reports operating errors as absl::Status. Canonical codes (INVALID_ARGUMENT,
// NOT_FOUND, ...) are used as they are; arraykit's own conditions (not primary, failover in
// progress, ...) are canonical statuses carrying a payload with the arraykit code, so the C ABI
// can return the precise code while absl code paths still see a sensible canonical one.
#ifndef ARRAYKIT_CORE_STATUS_H_
#define ARRAYKIT_CORE_STATUS_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace arraykit {

// Values equal the AK_E* constants of include/arraykit/arraykit.h; never renumber.
enum class ErrorCode : int {
  kNotPrimary = 1000,           // the call needs the primary; this member is not it
  kClockSkew = 1001,            // a peer's clock differs from ours beyond the allowed skew
  kVersionMismatch = 1002,      // members run different arraykit versions
  kFingerprintMismatch = 1003,  // the CA fingerprint the operator confirmed does not match
  kBusy = 1004,                 // a failover or recovery is under way; changes are refused
  kCertificateRejected = 1005,  // a certificate failed verification (reason code in message)
};

// Builds a status with the canonical code that best fits `code` and the arraykit payload; its
// reason is the code's word ("busy", "not_primary", ...).
absl::Status MakeError(ErrorCode code, absl::string_view message);

// The arraykit code carried by `status`, if any.
std::optional<ErrorCode> GetErrorCode(const absl::Status& status);

// Convenience for the most common operating error.
inline absl::Status InvalidArgument(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// Reasons: a stable snake_case word for why an operation failed ("unknown_field",
// "name_mismatch", "not_primary"), carried as a payload next to the code so that callers (the C
// ABI's ak_last_error_reason, Python's .reason, arrayctl's "reason") never parse messages.
// Every reason word used anywhere is listed in docs/c-abi.md.

// `status` with `reason` attached (replacing any earlier one); OK stays OK.
absl::Status WithReason(absl::Status status, absl::string_view reason);

// A status with `code`, `message` and `reason`.
absl::Status MakeError(absl::StatusCode code, absl::string_view reason, absl::string_view message);

// The reason attached to `status`; without one, the word of its code ("invalid_argument",
// "not_primary", ...); "" for OK.
std::string ReasonOf(const absl::Status& status);

}  // namespace arraykit

#endif  // ARRAYKIT_CORE_STATUS_H_
