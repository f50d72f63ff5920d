/* A host written in C99, using only the C ABI and no JSON parser:
 *   1. checks an array description (the file given on the command line, or a built-in one);
 *   2. creates the array's CA, makes a member key + CSR, signs it and verifies the certificate;
 *   3. simulates the loss of the primary and prints who took over.
 * It shows the patterns every host needs: the status / ak_last_error_reason() / ak_last_error()
 * triple, ak_json_get() to read one field of a returned document, and freeing everything
 * (ak_free for documents, ak_free_secret for private keys). Exit 0 on success, 1 when a step is
 * refused, 2 for bad input, 3 for a library mismatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arraykit/arraykit.h"

static const char kArray[] =
    "{\"members\": ["
    "{\"name\": \"boston.example.com\", \"roles\": [\"frontend\", \"backend\"]},"
    "{\"name\": \"newyork.example.com\", \"roles\": [\"frontend\"]}],"
    " \"primary\": \"boston.example.com\"}";

/* A scenario is an array description plus events (docs/failover.md). */
static const char kScenario[] =
    "{\"members\": ["
    "{\"name\": \"boston.example.com\", \"roles\": [\"frontend\", \"backend\"]},"
    "{\"name\": \"newyork.example.com\", \"roles\": [\"frontend\", \"backend\"]},"
    "{\"name\": \"detroit.example.com\", \"roles\": [\"frontend\", \"backend\"]}],"
    " \"primary\": \"boston.example.com\","
    " \"resilience\": {\"failover_enabled\": true},"
    " \"events\": [{\"at_s\": 0, \"crash\": \"boston.example.com\"}], \"until_s\": 900}";

static void log_line(void *user, ak_log_level level, const char *message) {
  (void)user;
  fprintf(stderr, "[arraykit %d] %s\n", (int)level, message);
}

/* Reports a failed call the way an operator wants it: what failed, the reason word, the message.
 * Returns the process exit code for it. */
static int report_failure(const char *what, ak_status status) {
  fprintf(stderr, "%s: %s (%s): %s\n", what, ak_strerror(status), ak_last_error_reason(),
          ak_last_error());
  return status == AK_INVALID_ARGUMENT ? 2 : 1;
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

static int check_placement(const char *array_json) {
  ak_json_options opts = AK_JSON_OPTIONS_INIT;
  char *report = NULL;
  char *errors = NULL;
  ak_status status;
  opts.indent = 2;
  status = ak_placement_check(&report, array_json, &opts);
  if (status != AK_OK) return report_failure("ak_placement_check", status);
  printf("%s\n", report);
  status = ak_json_get(&errors, report, "/errors");
  ak_free(report);
  if (status != AK_OK) return report_failure("ak_json_get /errors", status);
  printf("placement: %s error(s)\n", errors);
  ak_free(errors);
  return 0;
}

/* CA, member request, signing and verification. Every document and key is released on every
 * path: the pointers start NULL and ak_free/ak_free_secret accept NULL. */
static int enrol_member(void) {
  char *ca_json = NULL, *ca_key = NULL, *ca_pem = NULL;
  char *request_json = NULL, *member_key = NULL, *csr_pem = NULL;
  char *certificate_json = NULL, *certificate_pem = NULL, *fingerprint = NULL;
  char *result_json = NULL, *valid = NULL;
  int exit_code = 0;
  ak_status status;

  if ((status = ak_pki_ca_create(&ca_json, &ca_key, NULL, NULL)) != AK_OK) {
    exit_code = report_failure("ak_pki_ca_create", status);
  } else if ((status = ak_json_get(&ca_pem, ca_json, "/certificate_pem")) != AK_OK ||
             (status = ak_json_get(&fingerprint, ca_json,
                                   "/certificate/fingerprint_sha256")) != AK_OK) {
    exit_code = report_failure("ak_json_get (CA)", status);
  } else if ((status = ak_pki_request_create(&request_json, &member_key,
                                             "{\"name\": \"newyork.example.com\"}", NULL)) !=
             AK_OK) {
    exit_code = report_failure("ak_pki_request_create", status);
  } else if ((status = ak_json_get(&csr_pem, request_json, "/csr_pem")) != AK_OK) {
    exit_code = report_failure("ak_json_get /csr_pem", status);
  } else if ((status = ak_pki_csr_sign(
                  &certificate_json, ca_pem, ca_key, csr_pem,
                  "{\"members\": [\"boston.example.com\", \"newyork.example.com\"],"
                  " \"expected_name\": \"newyork.example.com\"}",
                  NULL)) != AK_OK) {
    exit_code = report_failure("ak_pki_csr_sign", status);
  } else if ((status = ak_json_get(&certificate_pem, certificate_json, "/certificate_pem")) !=
             AK_OK) {
    exit_code = report_failure("ak_json_get /certificate_pem", status);
  } else if ((status = ak_pki_verify(&result_json, certificate_pem, ca_pem,
                                     "{\"expected_name\": \"newyork.example.com\"}", NULL)) !=
             AK_OK) {
    exit_code = report_failure("ak_pki_verify", status);
  } else if ((status = ak_json_get(&valid, result_json, "/valid")) != AK_OK) {
    exit_code = report_failure("ak_json_get /valid", status);
  } else {
    printf("CA fingerprint: %s\n", fingerprint);
    printf("newyork.example.com certificate verifies: %s\n", valid);
    if (strcmp(valid, "true") != 0) exit_code = 1;
  }

  ak_free(valid);
  ak_free(result_json);
  ak_free(certificate_pem);
  ak_free(certificate_json);
  ak_free(csr_pem);
  ak_free_secret(member_key);
  ak_free(request_json);
  ak_free(fingerprint);
  ak_free(ca_pem);
  ak_free_secret(ca_key);
  ak_free(ca_json);
  return exit_code;
}

static int simulate_failover(void) {
  char *result = NULL;
  char *primary = NULL;
  ak_status status = ak_simulate(&result, kScenario, NULL);
  if (status != AK_OK) return report_failure("ak_simulate", status);
  status = ak_json_get(&primary, result, "/arrays/0/primary");
  ak_free(result);
  if (status != AK_OK) return report_failure("ak_json_get /arrays/0/primary", status);
  printf("after boston.example.com crashed, the primary is %s\n", primary);
  ak_free(primary);
  return 0;
}

int main(int argc, char **argv) {
  ak_host_hooks hooks = AK_HOST_HOOKS_INIT;
  char *input = NULL;
  int exit_code;

  if (ak_abi_version() != AK_ABI_VERSION) {
    fprintf(stderr, "libarraykit ABI %u, header ABI %d\n", ak_abi_version(), AK_ABI_VERSION);
    return 3;
  }
  hooks.log = log_line;
  hooks.log_level = AK_LOG_WARNING;
  {
    const ak_status status = ak_set_host_hooks(&hooks);
    if (status != AK_OK) return report_failure("ak_set_host_hooks", status);
  }

  if (argc > 1) {
    input = read_file(argv[1]);
    if (input == NULL) {
      fprintf(stderr, "cannot read %s\n", argv[1]);
      return 2;
    }
  }
  printf("arraykit %s\n", ak_version_string());
  exit_code = check_placement(input != NULL ? input : kArray);
  free(input);
  if (exit_code == 0) exit_code = enrol_member();
  if (exit_code == 0) exit_code = simulate_failover();
  return exit_code;
}
