#include "edgehook/health_mode.h"
#include "edgehook/buf.h"
#include "edgehook/config.h"
#include "edgehook/healthcheck.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int healthcheck_default_url(const struct listen_cfg *list, size_t n, char *out, size_t cap)
{
	size_t i;
	for (i = 0; i < n; i++) {
		const struct listen_cfg *l = &list[i];
		char host[INET6_ADDRSTRLEN];
		if (l->tls > 0)
			continue;
		if (l->addr.ss_family == AF_INET) {
			const struct sockaddr_in *a = (const struct sockaddr_in *)&l->addr;
			if (a->sin_addr.s_addr == htonl(INADDR_ANY))
				snprintf(host, sizeof(host), "127.0.0.1");
			else
				inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			snprintf(out, cap, "http://%s:%u/healthz", host, ntohs(a->sin_port));
			return 0;
		}
		if (l->addr.ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&l->addr;
			if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
				snprintf(host, sizeof(host), "::1");
			else
				inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			snprintf(out, cap, "http://[%s]:%u/healthz", host, ntohs(a->sin6_port));
			return 0;
		}
	}
	return -1;
}

int healthcheck_main(const char *url, const char *config_path, const char *listen)
{
	struct config *cfg = NULL;
	struct listen_cfg one;
	struct buf errors;
	char text[128];
	int rc = -1;
	if (url)
		return healthcheck_run(url);
	if (listen) {
		if (config_parse_listen(listen, &one) == 0)
			rc = healthcheck_default_url(&one, 1, text, sizeof(text));
	} else {
		buf_init(&errors, 1 << 16);
		if (config_path)
			rc = config_load_file(config_path, &cfg, &errors);
		else
			rc = config_load_text("<default>", config_default_yaml, strlen(config_default_yaml), &cfg, &errors);
		if (errors.len)
			fwrite(errors.data, 1, errors.len, stderr);
		buf_free(&errors);
		if (rc == 0)
			rc = healthcheck_default_url(cfg->server.listen, cfg->server.nlisten, text, sizeof(text));
		config_free(cfg);
	}
	if (rc < 0) {
		fprintf(stderr, "edgehook: --healthcheck: no plain-HTTP listener to check; give a URL\n");
		return 1;
	}
	return healthcheck_run(text);
}
