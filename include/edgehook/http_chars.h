/* http_chars: the character classes of RFC 9110 that the head parser
 * and the chunked decoder both check. */
#ifndef EDGEHOOK_HTTP_CHARS_H
#define EDGEHOOK_HTTP_CHARS_H

/* tchar per RFC 9110 5.6.2: 1 for a token character */
extern const unsigned char http_token_chars[256];

#define IS_TOKEN(c) (http_token_chars[(unsigned char)(c)])
/* field-vchar / obs-text / SP / HTAB */
#define IS_FIELD_CHAR(c) ((unsigned char)(c) >= 0x20 ? (unsigned char)(c) != 0x7f : (c) == '\t')

#endif
