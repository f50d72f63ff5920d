/* Consumes the installed arraykit: prints the version and checks a one-member array. */
#include <stdio.h>
#include <string.h>

#include <arraykit/arraykit.h>

int main(void) {
  char *report = NULL;
  ak_status status = ak_placement_check(
      &report, "{\"members\": [{\"name\": \"solo.example.com\", \"roles\": [\"frontend\"]}]}",
      NULL);
  if (status != AK_OK) {
    fprintf(stderr, "check failed: %s: %s\n", ak_strerror(status), ak_last_error());
    return 1;
  }
  printf("arraykit %s ABI %u: %s\n", ak_version_string(), ak_abi_version(), report);
  status = strstr(report, "\"findings\"") != NULL ? 0 : 1;
  ak_free(report);
  return status;
}
