/*
 * arraykit — the stable C ABI.
 *
 * This header (with the headers it includes) is the whole contract between arraykit and host
 * applications: what is not declared here is not API. It is plain C99.
 *
 * Conventions
 * - Every call returns an ak_status: AK_OK (0) or an error code. Codes 1..16 are the canonical
 *   gRPC/absl codes; arraykit's own codes start at 1000. Codes are never renumbered.
 * - After a failing call, ak_last_error_reason() gives its stable reason word and ak_last_error()
 *   a message for people, on the calling thread. Branch on the code and the reason only.
 * - Out-parameters come first. Strings the library returns through `char **` are owned by the
 *   caller and released with ak_free(). On failure *out is set to NULL.
 * - Complex inputs and outputs are UTF-8 JSON documents (docs/c-abi.md, docs/schemas/). Input
 *   documents are strict: an unknown field or a key given twice is AK_INVALID_ARGUMENT (reasons
 *   unknown_field, duplicate_key). ak_json_get() reads one value of a returned document.
 * - Options structs start with `unsigned int version`; initialise them with the *_INIT macro or
 *   the *_init() function. Every version from 1 to the library's own is accepted. A NULL
 *   options pointer means "defaults".
 * - All functions are thread-safe unless said otherwise.
 */
#ifndef ARRAYKIT_ARRAYKIT_H_
#define ARRAYKIT_ARRAYKIT_H_

#include <stddef.h>

/* AK_API marks the functions of the C ABI. On Windows the library's own build (which defines
 * ARRAYKIT_BUILDING, privately) exports them and every consumer imports them; with GCC and Clang
 * they have default visibility in a library built with hidden visibility. */
#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(ARRAYKIT_BUILDING)
#define AK_API __declspec(dllexport)
#else
#define AK_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define AK_API __attribute__((visibility("default")))
#else
#define AK_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ABI major version; equals the shared library's SOVERSION. */
#define AK_ABI_VERSION 1

/* ---- status codes ---------------------------------------------------------------------- */
typedef int ak_status;

/* The status code table, one row per code: X(NAME, value, code word, description).
 * The code word is the code's snake_case name; it is also the reason ak_last_error_reason()
 * reports when a failure has no finer reason. This table generates the enum below,
 * ak_strerror(), the Python exception classes and the list in docs/c-abi.md (checked by a test).
 * Codes 1..16 are the canonical gRPC/absl codes; arraykit's own codes start at 1000.
 * Add rows at the end; never renumber. */
#define AK_STATUS_CODES(X)                                                                      \
  X(AK_OK, 0, "ok", "ok")                                                                       \
  X(AK_CANCELLED, 1, "cancelled", "cancelled")                                                  \
  X(AK_UNKNOWN, 2, "unknown", "unknown error")                                                  \
  X(AK_INVALID_ARGUMENT, 3, "invalid_argument", "invalid argument")                             \
  X(AK_DEADLINE_EXCEEDED, 4, "deadline_exceeded", "deadline exceeded")                          \
  X(AK_NOT_FOUND, 5, "not_found", "not found")                                                  \
  X(AK_ALREADY_EXISTS, 6, "already_exists", "already exists")                                   \
  X(AK_PERMISSION_DENIED, 7, "permission_denied", "permission denied")                          \
  X(AK_RESOURCE_EXHAUSTED, 8, "resource_exhausted", "resource exhausted")                       \
  X(AK_FAILED_PRECONDITION, 9, "failed_precondition", "failed precondition")                    \
  X(AK_ABORTED, 10, "aborted", "aborted")                                                       \
  X(AK_OUT_OF_RANGE, 11, "out_of_range", "out of range")                                        \
  X(AK_UNIMPLEMENTED, 12, "unimplemented", "unimplemented")                                     \
  X(AK_INTERNAL, 13, "internal", "internal error")                                              \
  X(AK_UNAVAILABLE, 14, "unavailable", "unavailable")                                           \
  X(AK_DATA_LOSS, 15, "data_loss", "data loss")                                                 \
  X(AK_UNAUTHENTICATED, 16, "unauthenticated", "unauthenticated")                               \
  X(AK_ENOTPRIMARY, 1000, "not_primary", "not the primary")                                     \
  X(AK_ECLOCKSKEW, 1001, "clock_skew", "clock skew too large")                                  \
  X(AK_EVERSION, 1002, "version_mismatch", "version mismatch")                                  \
  X(AK_EFINGERPRINT, 1003, "fingerprint_mismatch", "fingerprint mismatch")                      \
  X(AK_EBUSY, 1004, "busy", "failover or recovery in progress")                                 \
  X(AK_ECERT_REJECTED, 1005, "certificate_rejected", "certificate rejected")

#define AK_STATUS_ENUMERATOR_(name, value, word, text) name = value,
enum { AK_STATUS_CODES(AK_STATUS_ENUMERATOR_) };
#undef AK_STATUS_ENUMERATOR_

/* A short, static, English description of `code` ("invalid argument"); never NULL.
 * Unknown codes give "unrecognised status code". */
AK_API const char *ak_strerror(ak_status code);

/* The message of the most recent failing call on this thread, "" after a successful call.
 * Never NULL. Valid until the next arraykit call on the same thread. */
AK_API const char *ak_last_error(void);

/* The stable snake_case reason of the most recent failing call on this thread ("unknown_field",
 * "not_primary", "name_mismatch", ...; the list is in docs/c-abi.md), "" after a successful
 * call. A failure without a finer reason reports its code word from AK_STATUS_CODES. Never NULL.
 * Valid until the next arraykit call on the same thread. Callers branch on this, never on the
 * message text. */
AK_API const char *ak_last_error_reason(void);

/* Releases a string or buffer returned by arraykit. ak_free(NULL) is a no-op. */
AK_API void ak_free(void *ptr);

/* AK_ABI_VERSION of the loaded library (compare with the header's to detect a mismatch). */
AK_API unsigned int ak_abi_version(void);

/* The library's release version, e.g. "1.0.0" (its major number is AK_ABI_VERSION). Static;
 * never NULL. */
AK_API const char *ak_version_string(void);

/* ---- host hooks ------------------------------------------------------------------------ */
typedef enum ak_log_level {
  AK_LOG_DEBUG = 0,
  AK_LOG_INFO = 1,
  AK_LOG_WARNING = 2,
  AK_LOG_ERROR = 3
} ak_log_level;

/* Receives one log line (UTF-8, no trailing newline). Called on the thread that made the
 * arraykit call that logs, never while arraykit holds a lock: the callback may call back into
 * arraykit. `message` is valid only during the call. Secrets (private keys, passwords) are
 * never logged. */
typedef void (*ak_log_fn)(void *user, ak_log_level level, const char *message);

#define AK_HOST_HOOKS_VERSION 1

typedef struct ak_host_hooks {
  unsigned int version;   /* AK_HOST_HOOKS_VERSION */
  void *user;             /* passed to every callback */
  ak_log_fn log;          /* NULL: arraykit does not log */
  ak_log_level log_level; /* lowest level delivered to `log` */
  void *reserved[8];      /* must be zero; later versions add callbacks here */
} ak_host_hooks;

#define AK_HOST_HOOKS_INIT {AK_HOST_HOOKS_VERSION, NULL, NULL, AK_LOG_INFO, {NULL}}

/* Fills `hooks` with the defaults of `version`; AK_INVALID_ARGUMENT for an unknown version. */
AK_API ak_status ak_host_hooks_init(ak_host_hooks *hooks, unsigned int version);

/* Installs process-wide host hooks (copied). NULL restores the defaults (no logging). */
AK_API ak_status ak_set_host_hooks(const ak_host_hooks *hooks);

/* ---- JSON output options ----------------------------------------------------------------- */
#define AK_JSON_OPTIONS_VERSION 1

typedef struct ak_json_options {
  unsigned int version; /* AK_JSON_OPTIONS_VERSION */
  int indent;           /* < 0: compact one-line output (default); 0..16: pretty, that many spaces */
} ak_json_options;

#define AK_JSON_OPTIONS_INIT {AK_JSON_OPTIONS_VERSION, -1}

AK_API ak_status ak_json_options_init(ak_json_options *opts, unsigned int version);

/* ---- reading returned documents without a JSON parser ------------------------------------ */

/* The value at `pointer` (RFC 6901: "" is the whole document, "/csr_pem" a field, "/members/0/name"
 * an array element; "~1" stands for '/', "~0" for '~') in the JSON document `doc_json`, as text
 * in *out (release with ak_free): a string's contents unescaped, any other value as compact JSON
 * ("true", "3", "{...}"). Errors: AK_NOT_FOUND (reason "no_such_field") when the document has no
 * value there; AK_INVALID_ARGUMENT with reason "invalid_json", "invalid_pointer" or
 * "embedded_nul" (a string holding U+0000 cannot be C text). For a secret field, such as a key
 * inside a document, prefer the entry points that return it apart (ak_free_secret). */
AK_API ak_status ak_json_get(char **out, const char *doc_json, const char *pointer);

#ifdef __cplusplus
} /* extern "C" */
#endif

#include "arraykit/placement.h"
#include "arraykit/pki.h"
#include "arraykit/simulate.h"
#include "arraykit/node.h"

#endif /* ARRAYKIT_ARRAYKIT_H_ */
