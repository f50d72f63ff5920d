// The one mapping from absl::Status (with arraykit payloads) to the C ABI's ak_status.
#ifndef ARRAYKIT_CAPI_STATUS_MAP_H_
#define ARRAYKIT_CAPI_STATUS_MAP_H_

#include "absl/status/status.h"
#include "arraykit/arraykit.h"

namespace arraykit::capi {

ak_status ToAkStatus(const absl::Status& status);

}  // namespace arraykit::capi

#endif  // ARRAYKIT_CAPI_STATUS_MAP_H_
