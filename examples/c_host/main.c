/* A minimal host written in C99: checks an array description given on the command line (or a
 * built-in two-member example) and prints the report. Shows the status/last-error/free pattern. */
#include <stdio.h>
#include <stdlib.h>

#include "arraykit/arraykit.h"

static void log_line(void *user, ak_log_level level, const char *message) {
  (void)user;
  fprintf(stderr, "[arraykit %d] %s\n", (int)level, message);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  long size;
  if (f == NULL) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    text = malloc((size_t)size + 1);
    if (text != NULL) {
      size_t got = fread(text, 1, (size_t)size, f);
      text[got] = '\0';
    }
  }
  fclose(f);
  return text;
}

int main(int argc, char **argv) {
  static const char example[] =
      "{\"members\": ["
      "{\"name\": \"boston.example.com\", \"roles\": [\"frontend\", \"backend\"]},"
      "{\"name\": \"newyork.example.com\", \"roles\": [\"frontend\"]}],"
      " \"primary\": \"boston.example.com\"}";
  ak_host_hooks hooks = AK_HOST_HOOKS_INIT;
  ak_json_options opts = AK_JSON_OPTIONS_INIT;
  char *input = NULL;
  char *report = NULL;
  ak_status status;

  if (ak_abi_version() != AK_ABI_VERSION) {
    fprintf(stderr, "libarraykit ABI %u, header ABI %d\n", ak_abi_version(), AK_ABI_VERSION);
    return 3;
  }
  hooks.log = log_line;
  hooks.log_level = AK_LOG_DEBUG;
  if (ak_set_host_hooks(&hooks) != AK_OK) {
    fprintf(stderr, "ak_set_host_hooks: %s\n", ak_last_error());
    return 3;
  }

  if (argc > 1) {
    input = read_file(argv[1]);
    if (input == NULL) {
      fprintf(stderr, "cannot read %s\n", argv[1]);
      return 2;
    }
  }
  opts.indent = 2;
  status = ak_placement_check(&report, input != NULL ? input : example, &opts);
  free(input);
  if (status != AK_OK) {
    fprintf(stderr, "ak_placement_check: %s (%d): %s\n", ak_strerror(status), status,
            ak_last_error());
    return 2;
  }
  printf("arraykit %s\n%s\n", ak_version_string(), report);
  ak_free(report);
  return 0;
}
