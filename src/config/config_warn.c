/* Warnings: settings that load but are probably not what the user wants
 * on an exposed host. Printed by --check and logged at start-up. */
#include "edgehook/config.h"

#include <netinet/in.h>
#include <string.h>

int config_listen_is_local(const struct listen_cfg *l)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};
	const struct sockaddr *sa = (const struct sockaddr *)&l->addr;
	if (sa->sa_family == AF_UNIX)
		return 1;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&l->addr)->sin_addr.s_addr) >> 24) == 127;
	return sa->sa_family == AF_INET6 &&
	       memcmp(((const struct sockaddr_in6 *)&l->addr)->sin6_addr.s6_addr, v6_loopback, 16) == 0;
}

/* Without a token the API trusts local peers; on a listener others can
 * reach, a proxy or a port forward on this host makes anyone local. */
static int api_warnings(const struct config *c, const struct listen_cfg *listen, size_t n, struct buf *out)
{
	const struct listen_cfg *api = c->api.nlisten ? c->api.listen : listen;
	size_t i, napi = c->api.nlisten ? c->api.nlisten : n;
	int rc = 0;
	if (c->api.token)
		return 0;
	for (i = 0; i < napi; i++)
		if (!config_listen_is_local(&api[i]))
			rc |= buf_printf(out, "%s: warning: the API is served on %s and api.token is not set: set api.token, "
				   "or api.listen to a loopback address or unix:/PATH\n", c->path, api[i].text);
	return rc;
}

static int trigger_warnings(const struct config *c, struct buf *out)
{
	size_t i;
	int rc = 0;
	for (i = 0; i < c->ntriggers; i++) {
		const struct trigger_cfg *t = &c->triggers[i];
		if (t->event_source && *t->event_source && !t->secret && !t->nallowed)
			rc |= buf_printf(out, "%s:%d: warning: trigger %s: event_source only checks the Origin/Referer the client "
				   "sends, it is not authentication; add a secret or allowed_ips\n", c->path, t->line, t->id);
	}
	return rc;
}

int config_warnings(const struct config *c, const struct listen_cfg *listen, size_t nlisten, struct buf *out)
{
	int rc = api_warnings(c, listen ? listen : c->server.listen, listen ? nlisten : c->server.nlisten, out);
	rc |= trigger_warnings(c, out);
	return rc < 0 ? -1 : 0;
}
