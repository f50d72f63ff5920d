/* Consumes the installed arraykit: checks that the versions tell one story and that a real call
 * works. Built by CMake (find_package; ARRAYKIT_PACKAGE_VERSION is the package's version) and by
 * pkg-config (-DARRAYKIT_PACKAGE_VERSION from `pkg-config --modversion`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arraykit/arraykit.h>

#ifdef ARRAYKIT_BUILDING
#error "ARRAYKIT_BUILDING reached a consumer: AK_API would export the consumer's declarations"
#endif
#ifndef ARRAYKIT_PACKAGE_VERSION
#error "build with -DARRAYKIT_PACKAGE_VERSION=\"x.y.z\""
#endif

int main(void) {
  const char *version = ak_version_string();
  if (strcmp(version, ARRAYKIT_PACKAGE_VERSION) != 0) {
    fprintf(stderr, "library version %s, package version %s\n", version, ARRAYKIT_PACKAGE_VERSION);
    return 1;
  }
  if (ak_abi_version() != AK_ABI_VERSION || strtoul(version, NULL, 10) != AK_ABI_VERSION) {
    fprintf(stderr, "library ABI %u, header ABI %d, version %s: major version is not the ABI\n",
            ak_abi_version(), AK_ABI_VERSION, version);
    return 1;
  }
  char *report = NULL;
  ak_status status = ak_placement_check(
      &report, "{\"members\": [{\"name\": \"solo.example.com\", \"roles\": [\"frontend\"]}]}",
      NULL);
  if (status != AK_OK) {
    fprintf(stderr, "check failed: %s: %s\n", ak_strerror(status), ak_last_error());
    return 1;
  }
  printf("arraykit %s ABI %u: %s\n", version, ak_abi_version(), report);
  status = strstr(report, "\"findings\"") != NULL ? 0 : 1;
  ak_free(report);
  return status;
}
