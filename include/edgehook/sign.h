/* sign: webhook signatures (HMAC via BearSSL), all compares constant-time.
 *
 * Standard Webhooks: "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>",
 * key = base64 part of "whsec_...". GitHub: "sha256=<hex>" (or "sha1=")
 * of the raw body. Slack v0: "v0=<hex HMAC-SHA256(secret,
 * v0:timestamp:body)>" with a 5-minute window. GitLab: the token itself.
 *
 * Verifiers return 0 when valid, -1 otherwise, and set *why to a short
 * reason for the 401 body. `now` is Unix seconds (injectable in tests). */
#ifndef EDGEHOOK_SIGN_H
#define EDGEHOOK_SIGN_H

#include <stddef.h>
#include <stdint.h>

enum { SIGN_WINDOW_SECONDS = 300 };

/* Writes the webhook-signature value (NUL-terminated); -1 if out is short
 * or the secret is malformed. */
int sign_standard(const char *secret, const char *msg_id, const char *timestamp, const char *body, size_t len,
		  char *out, size_t cap);
int sign_verify_standard(const char *secret, const char *msg_id, const char *timestamp, const char *sig_header,
			 const char *body, size_t len, int64_t now, const char **why);
int sign_verify_github(const char *secret, const char *header, size_t header_len, int sha1, const char *body,
		       size_t len, const char **why);
int sign_verify_slack(const char *secret, const char *timestamp, const char *sig_header, const char *body, size_t len,
		      int64_t now, const char **why);
int sign_verify_token(const char *secret, const char *token, size_t token_len);
/* Constant-time equality of two byte strings (length is not secret). */
int sign_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
