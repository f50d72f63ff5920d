/*
 * arraykit C ABI — PKI: the array's certificate authority, member keys and CSRs, peer
 * certificate verification, rotation plans and the TLS policy.
 * Included by arraykit/arraykit.h; do not include directly. Documents: docs/pki.md.
 *
 * Private keys
 * - Private keys (PKCS#8 PEM) are returned only through their own `char **out_private_key_pem`
 *   parameter, never inside a JSON document. Release them with ak_free_secret(), which wipes
 *   the memory before freeing it (ak_free() would leave the key in freed memory).
 * - Keys passed in (`ca_private_key_pem`) are read in place and never copied into a message:
 *   no ak_last_error() text and no log line carries key material.
 *
 * Times are RFC 3339 strings ("2026-01-01T12:00:00Z"). Where an options document has a "now"
 * or "at" field, it is optional and defaults to the library's wall clock at the call.
 * Validity is inclusive at both ends (RFC 5280): a certificate is valid at its notAfter second.
 *
 * Options documents are strict: a JSON object holding only the fields listed for it. An unknown
 * field is AK_INVALID_ARGUMENT with reason `unknown_field` naming it and the nearest known name
 * ("options.revoked_serial: unknown field (did you mean revoked_serials?)"); a duplicate key is
 * `duplicate_key`; a known field of the wrong type or out of range is AK_INVALID_ARGUMENT naming
 * the field ("options.lifetime_days").
 *
 * Certificates: every `*_pem` certificate input is PEM text holding exactly one certificate
 * (truststores: one or more). DER never travels as a NUL-terminated string: convert it first
 * with ak_pki_certificate_pem(), which takes a length. A certificate whose DER has trailing
 * bytes (also inside a PEM block), or an input with more than one certificate, is `malformed`.
 *
 * Refusals (read the reason with ak_last_error_reason(); never parse the message):
 * - bad input of the caller: AK_INVALID_ARGUMENT (reasons unknown_field, duplicate_key,
 *   name_not_fqdn, malformed, not_a_ca, weak_key, invalid_argument, ...);
 * - a CSR the CA refuses: AK_PERMISSION_DENIED, reason one of malformed, bad_signature,
 *   not_a_member, name_mismatch, name_not_fqdn, weak_key, bad_subject_alt_name;
 * - a CA that cannot sign: AK_FAILED_PRECONDITION, reason ca_not_yet_valid, ca_expired or
 *   outlives_ca (the certificate would outlive the CA; it is never silently shortened);
 * - a rejected peer certificate is a result, not an error: ak_pki_verify returns AK_OK with
 *   {"valid": false, "reason", "message"}. AK_ECERT_REJECTED is reserved for the runtime, which
 *   returns it when a peer's certificate is refused at a TLS handshake or join (same reasons).
 */
#ifndef ARRAYKIT_PKI_H_
#define ARRAYKIT_PKI_H_

#ifndef ARRAYKIT_ARRAYKIT_H_
#error "include <arraykit/arraykit.h> instead"
#endif

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Wipes (overwrites with zeros) and releases a private key returned by an ak_pki_* call.
 * ak_free_secret(NULL) is a no-op. The string must be NUL-terminated, as arraykit returns it. */
AK_API void ak_free_secret(char *secret);

/* Creates the array's certificate authority (a self-signed CA certificate and its key).
 * options_json (NULL = all defaults), fields:
 *   {"key_type": "ecdsa-p256" | "ecdsa-p384" | "rsa-2048" | "rsa-3072"   (default ecdsa-p256),
 *    "lifetime_days": 1..10950  (default 1825), "common_name": "..."  (default
 *    "arraykit array CA", at most 64 characters), "now": RFC 3339}
 * *out_ca_json: {"certificate_pem": "...", "certificate": {<as ak_pki_certificate_inspect>}}.
 * *out_private_key_pem: the CA key; release with ak_free_secret(). */
AK_API ak_status ak_pki_ca_create(char **out_ca_json, char **out_private_key_pem,
                                  const char *options_json, const ak_json_options *opts);

/* Makes a member's private key and a certificate signing request for its peer DNS name.
 * request_json: {"name": "boston.example.com" (required), "key_type": ... (default ecdsa-p256)}
 * *out_request_json: {"name": "<normalized name>", "key_type": "...", "csr_pem": "..."}.
 * *out_private_key_pem: the member key; it never leaves the member. Release with
 * ak_free_secret(). */
AK_API ak_status ak_pki_request_create(char **out_request_json, char **out_private_key_pem,
                                       const char *request_json, const ak_json_options *opts);

/* Signs a member's CSR with the array's CA into a peer certificate.
 * ca_certificate_pem / ca_private_key_pem: the CA as ak_pki_ca_create returned it.
 * options_json: {"members": ["boston.example.com", ...] (required, 1..10 names: the array's
 *   members after the change), "expected_name": "..." (optional: the member being enrolled),
 *   "lifetime_days": 1..10950 (default 90), "now": RFC 3339}
 * *out_certificate_json: {"certificate_pem": "...", "certificate": {<inspect>}}.
 * The CSR is parsed by the crypto library. A refused CSR is AK_PERMISSION_DENIED with the
 * reason (see above) in ak_last_error_reason(). A CA certificate/key that cannot be used is
 * AK_INVALID_ARGUMENT; a CA that cannot sign this certificate is AK_FAILED_PRECONDITION. */
AK_API ak_status ak_pki_csr_sign(char **out_certificate_json, const char *ca_certificate_pem,
                                 const char *ca_private_key_pem, const char *csr_pem,
                                 const char *options_json, const ak_json_options *opts);

/* A loaded certificate authority: the CA certificate and its key, parsed once, for a primary
 * that signs many CSRs. Opaque; create with ak_ca_open, release with ak_ca_close. A handle is
 * immutable once open: ak_ca_sign_csr and ak_ca_certificate may run concurrently on one handle
 * from several threads; ak_ca_close must not race with them. */
typedef struct ak_ca ak_ca;

/* Loads a CA as ak_pki_ca_create returned it. The key is parsed into the handle and the
 * caller's copy is not kept (wipe and free it when done). Checks that the certificate is a CA
 * certificate (CA:TRUE and keyUsage keyCertSign; else reason `not_a_ca`) and that the key
 * belongs to it; AK_INVALID_ARGUMENT otherwise. *out_ca is NULL on failure. */
AK_API ak_status ak_ca_open(ak_ca **out_ca, const char *ca_certificate_pem,
                            const char *ca_private_key_pem);

/* ak_pki_csr_sign with a loaded CA: same options, result and refusals. */
AK_API ak_status ak_ca_sign_csr(char **out_certificate_json, const ak_ca *ca, const char *csr_pem,
                                const char *options_json, const ak_json_options *opts);

/* The CA certificate of a handle: {"certificate_pem": "...", "certificate": {<inspect>}}. */
AK_API ak_status ak_ca_certificate(char **out_ca_json, const ak_ca *ca,
                                   const ak_json_options *opts);

/* Releases a handle (and wipes its key). ak_ca_close(NULL) is a no-op. */
AK_API void ak_ca_close(ak_ca *ca);

/* Converts exactly one certificate given as `der_len` bytes of DER (PEM bytes are accepted too)
 * into PEM text, for the calls below that take PEM. *out_pem is released with ak_free().
 * Trailing bytes after the certificate, more than one certificate or anything unparseable is
 * AK_INVALID_ARGUMENT with reason `malformed`. */
AK_API ak_status ak_pki_certificate_pem(char **out_pem, const void *der, size_t der_len);

/* Describes one certificate (PEM text).
 * *out_info_json: {"subject", "issuer", "serial", "not_before", "not_after",
 *   "fingerprint_sha256" (exactly as `openssl x509 -noout -fingerprint -sha256` prints it after
 *   "="), "is_ca", "dns_names", "key", "renewal_at"}.
 * An unparseable certificate is AK_INVALID_ARGUMENT. */
AK_API ak_status ak_pki_certificate_inspect(char **out_info_json, const char *certificate_pem,
                                            const ak_json_options *opts);

/* Lists the CA certificates of a truststore given as concatenated PEM certificates (1..8).
 * *out_truststore_json: [{"subject", "fingerprint_sha256", "not_before", "not_after", "serial",
 *   "certificate_pem"}, ...]. A certificate that is not a self-signed CA with keyCertSign
 * (reason `not_a_ca`), a forbidden key (`weak_key`) or unparseable PEM (`malformed`) is
 * AK_INVALID_ARGUMENT naming its position ("ca_certificates_pem[1]"). */
AK_API ak_status ak_pki_truststore_inspect(char **out_truststore_json,
                                           const char *ca_certificates_pem,
                                           const ak_json_options *opts);

/* Verifies a peer certificate against the trusted CA certificate(s) (concatenated PEM, as for
 * ak_pki_truststore_inspect).
 * The array has no intermediates (CA path length 0): a peer is verified from its one
 * certificate and the truststore.
 * options_json: {"expected_name": "..." (required), "role": "server" | "client" (default
 *   server), "at": RFC 3339 (default now), "revoked_serials": ["hex", ...]}
 * *out_result_json: {"valid": true|false, "reason": null | "<code>", "message": "..."}, reason
 * one of untrusted_issuer, bad_signature, name_mismatch, expired, not_yet_valid, weak_key,
 * bad_key_usage, revoked, malformed.
 * A rejected certificate is AK_OK with "valid": false — including a certificate_pem that is
 * not exactly one certificate (reason "malformed": it is what a peer presented); a CA
 * certificate or one allowing keyCertSign is "bad_key_usage"; a key whose point is not on its
 * curve is "malformed". Errors are only for the caller's own inputs: NULL arguments, malformed
 * options, an unusable truststore (a trusted certificate that is not CA:TRUE with keyCertSign
 * is AK_INVALID_ARGUMENT with reason `not_a_ca`). */
AK_API ak_status ak_pki_verify(char **out_result_json, const char *certificate_pem,
                               const char *trusted_ca_pem, const char *options_json,
                               const ak_json_options *opts);

/* Plans the key, certificate and truststore steps of an array change (docs/pki.md).
 * array_json: an array description (docs/DESIGN.md §3). operation_json, one of:
 *   {"operation": "join", "member": "..."}         the member joining (not yet in the array)
 *   {"operation": "leave", "member": "..."}
 *   {"operation": "new_primary", "member": "..."}  also a CA rollover on the same primary
 *   {"operation": "renewal", "now": RFC 3339 (default now),
 *    "ca": {"not_before": RFC 3339, "not_after": RFC 3339},
 *    "certificates": [{"member": "...", "not_before": ..., "not_after": ...}, ...]}
 * *out_plan_json: {"plan": "join", "steps": [{"step": "...", "member": "...", "ca": "..."}]}. */
AK_API ak_status ak_pki_plan(char **out_plan_json, const char *array_json,
                             const char *operation_json, const ak_json_options *opts);

/* Builds the TLS policy for intra-array connections, checking requested cipher suites.
 * request_json (NULL = the default policy):
 *   {"min_version": "1.2" | "1.3" (default 1.2), "suites": ["IANA, OpenSSL or JSSE name", ...]}
 * *out_policy_json: {"min_version", "tls13_suites", "tls12_suites", "groups", "key_types",
 *   "openssl_tls13_suites", "openssl_tls12_cipher_list"}.
 * Refused suites (static RSA, CBC, RC4, DES, 3DES, MD5, ...) are AK_INVALID_ARGUMENT naming
 * each refused suite, why, and the allowed suites. */
AK_API ak_status ak_pki_tls_policy(char **out_policy_json, const char *request_json,
                                   const ak_json_options *opts);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ARRAYKIT_PKI_H_ */
