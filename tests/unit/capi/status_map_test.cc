#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "arraykit/arraykit.h"
#include "capi/status_map.h"
#include "core/status.h"

using arraykit::ErrorCode;
using arraykit::MakeError;
using arraykit::capi::ToAkStatus;

TEST_CASE("every canonical absl code maps to the C code of the same number") {
  for (int raw = 0; raw <= 16; ++raw) {
    absl::StatusCode code = static_cast<absl::StatusCode>(raw);
    absl::Status status = raw == 0 ? absl::OkStatus() : absl::Status(code, "m");
    CHECK(ToAkStatus(status) == raw);
  }
}

TEST_CASE("a canonical code outside the known range maps to AK_UNKNOWN") {
  CHECK(ToAkStatus(absl::Status(static_cast<absl::StatusCode>(42), "m")) == AK_UNKNOWN);
}

TEST_CASE("every arraykit error code maps to its AK_E constant and has a description") {
  struct Case {
    ErrorCode code;
    ak_status expected;
  };
  const Case cases[] = {
      {ErrorCode::kNotPrimary, AK_ENOTPRIMARY},
      {ErrorCode::kClockSkew, AK_ECLOCKSKEW},
      {ErrorCode::kVersionMismatch, AK_EVERSION},
      {ErrorCode::kFingerprintMismatch, AK_EFINGERPRINT},
      {ErrorCode::kBusy, AK_EBUSY},
      {ErrorCode::kCertificateRejected, AK_ECERT_REJECTED},
  };
  std::set<std::string> descriptions;
  for (const Case& c : cases) {
    absl::Status status = MakeError(c.code, "why");
    CHECK_FALSE(status.ok());
    CHECK(status.message() == "why");
    CHECK(arraykit::GetErrorCode(status) == c.code);
    CHECK(ToAkStatus(status) == c.expected);
    CHECK(static_cast<int>(c.code) == c.expected);
    descriptions.insert(ak_strerror(c.expected));
  }
  CHECK(descriptions.size() == std::size(cases));
  CHECK(descriptions.count("unrecognised status code") == 0);
}

TEST_CASE("a status without the arraykit payload has no arraykit code") {
  CHECK_FALSE(arraykit::GetErrorCode(absl::UnavailableError("x")).has_value());
  absl::Status forged = absl::UnavailableError("x");
  forged.SetPayload("type.arraykit.dev/arraykit.ErrorCode", absl::Cord("77"));
  CHECK_FALSE(arraykit::GetErrorCode(forged).has_value());
  CHECK(ToAkStatus(forged) == AK_UNAVAILABLE);
}
