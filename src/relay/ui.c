/* The status page: /ui and its script and style under /ui/, from the
 * files compiled in (ui_assets.h). The Content-Security-Policy allows
 * same-origin resources only, so the page holds no inline script or
 * style and can reach nothing but this server's API. */
#include "edgehook/relay_routes.h"
#include "edgehook/server.h"
#include "edgehook/strutil.h"
#include "edgehook/ui_assets.h"

#include <string.h>

static const char ui_headers[] = "Content-Security-Policy: default-src 'self'\r\n"
				 "X-Content-Type-Options: nosniff\r\n"
				 "X-Frame-Options: DENY\r\n"
				 "Referrer-Policy: no-referrer\r\n"
				 "Cache-Control: no-cache\r\n";

int ui_path(const char *path, size_t plen)
{
	return str_slice_eq(path, plen, "/ui") || (plen >= 4 && memcmp(path, "/ui/", 4) == 0);
}

void ui_handle(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *path, size_t plen)
{
	const struct ui_asset *a = NULL;
	size_t i;
	if (api_authorize_page(rl, c, req) < 0)
		return;
	if (str_slice_eq(path, plen, "/ui/"))
		plen = 3;
	for (i = 0; i < ui_nassets && !a; i++)
		if (str_slice_eq(path, plen, ui_assets[i].path))
			a = &ui_assets[i];
	if (!a) {
		api_respond_error(c, 404, "not found");
	} else if (!http_method_is_exact(req, "GET") && !http_method_is_exact(req, "HEAD")) {
		http_respond_405(c, "GET, HEAD");
	} else {
		http_respond(c, 200, a->content_type, ui_headers, (const char *)a->data, a->len);
	}
}
