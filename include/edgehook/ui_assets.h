/* ui_assets: the status page's files, compiled into the binary. The
 * definitions are generated at build time by mk/embed.sh from ui/ (see
 * the Makefile); ui.c serves them. */
#ifndef EDGEHOOK_UI_ASSETS_H
#define EDGEHOOK_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
	const char *path;         /* "/ui", "/ui/status.js", ... */
	const char *content_type;
	const unsigned char *data;
	size_t len;
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_nassets;

#endif
