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

TEST_CASE("the core's default reasons are the code words of the header's status code table") {
  // A status without an explicit reason reports its code word; the core keeps its own copy of
  // the words (it does not include the public header), so this test keeps the two in step.
  const absl::Status samples[] = {
      absl::CancelledError("m"),         absl::UnknownError("m"),
      absl::InvalidArgumentError("m"),   absl::DeadlineExceededError("m"),
      absl::NotFoundError("m"),          absl::AlreadyExistsError("m"),
      absl::PermissionDeniedError("m"),  absl::ResourceExhaustedError("m"),
      absl::FailedPreconditionError("m"), absl::AbortedError("m"),
      absl::OutOfRangeError("m"),        absl::UnimplementedError("m"),
      absl::InternalError("m"),          absl::UnavailableError("m"),
      absl::DataLossError("m"),          absl::UnauthenticatedError("m"),
      MakeError(ErrorCode::kNotPrimary, "m"), MakeError(ErrorCode::kClockSkew, "m"),
      MakeError(ErrorCode::kVersionMismatch, "m"), MakeError(ErrorCode::kFingerprintMismatch, "m"),
      MakeError(ErrorCode::kBusy, "m"),  MakeError(ErrorCode::kCertificateRejected, "m")};
  std::set<ak_status> seen;
  for (const absl::Status& status : samples) {
    const ak_status code = ToAkStatus(status);
    seen.insert(code);
    std::string word;
#define AK_WORD_OF_(name, value, text_word, text) \
  if (code == (name)) word = text_word;
    AK_STATUS_CODES(AK_WORD_OF_)
#undef AK_WORD_OF_
    INFO("code " << code);
    CHECK(arraykit::ReasonOf(status) == word);
  }
  // Every row of the table except AK_OK is sampled.
  std::size_t rows = 0;
#define AK_COUNT_ROW_(name, value, text_word, text) ++rows;
  AK_STATUS_CODES(AK_COUNT_ROW_)
#undef AK_COUNT_ROW_
  CHECK(seen.size() == rows - 1);
}
