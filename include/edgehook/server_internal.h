/* server_internal: what the connection side (server.c) and the
 * listening side (listener.c) of the HTTP server share. Not for other
 * modules: they use server.h. */
#ifndef EDGEHOOK_SERVER_INTERNAL_H
#define EDGEHOOK_SERVER_INTERNAL_H

#include "edgehook/list.h"
#include "edgehook/reactor.h"
#include "edgehook/server.h"

enum { MAX_LISTENERS = 16 };

struct http_server {
	struct reactor *r;
	struct http_server_limits lim;
	http_handler_fn handle;
	http_empty_body_fn empty_body_ok;
	void *app;
	int listeners[MAX_LISTENERS];
	struct tls_server_ctx *listener_tls[MAX_LISTENERS];
	unsigned listener_flags[MAX_LISTENERS];
	size_t nlisteners;
	int reserve_fd;
	struct timer accept_pause;
	struct list conns; /* struct http_conn */
	size_t nconns;
	struct http_server_stats stats;
	int draining;
	void (*on_empty)(void *);
	void *on_empty_arg;
};

/* server.c: takes an accepted socket as a connection; -1 when it cannot
 * (the caller still owns fd and refuses the peer). */
int http_conn_new(struct http_server *s, int fd, const struct sockaddr_storage *peer, struct tls_server_ctx *tls,
		  unsigned flags);

/* listener.c: the reserve descriptor and the accept pause timer; closing
 * stops accepting for good (drain); free also drops the reserve. */
void listener_init(struct http_server *s);
void listener_close(struct http_server *s);
void listener_free(struct http_server *s);

#endif
