/* list: intrusive circular doubly linked lists.
 *
 * A struct list is both the head of a list and the link inside each
 * element (embedded, so linking never allocates or fails). A head, and a
 * link that is in no list, points at itself: list_remove is then a no-op,
 * so "take it off whatever list holds it" needs no flag. Zeroed memory is
 * not a valid list: list_init every head and link first.
 *
 *   struct conn { ...; struct list link; };
 *   list_push_back(&srv->conns, &c->link);
 *   list_for_each_safe(it, nx, &srv->conns) {
 *           struct conn *c = list_entry(it, struct conn, link); ... }
 */
#ifndef EDGEHOOK_LIST_H
#define EDGEHOOK_LIST_H

#include <stddef.h>

struct list {
	struct list *prev, *next;
};

static inline void list_init(struct list *l) { l->prev = l->next = l; }
static inline int list_empty(const struct list *l) { return l->next == l; }
/* For a link: whether some list holds it. */
static inline int list_linked(const struct list *n) { return n->next != n; }

static inline void list_insert_between(struct list *n, struct list *prev, struct list *next)
{
	n->prev = prev;
	n->next = next;
	prev->next = n;
	next->prev = n;
}

static inline void list_push_front(struct list *head, struct list *n) { list_insert_between(n, head, head->next); }
static inline void list_push_back(struct list *head, struct list *n) { list_insert_between(n, head->prev, head); }

static inline void list_remove(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

/* Moves every element of from, in order, under the head to (whatever to
 * held is dropped); from is left empty. */
static inline void list_take_all(struct list *to, struct list *from)
{
	list_init(to);
	if (list_empty(from))
		return;
	list_insert_between(to, from->prev, from->next);
	list_init(from);
}

#define list_entry(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
/* The first element, or NULL for an empty list. */
#define list_first(head, type, member) (list_empty(head) ? NULL : list_entry((head)->next, type, member))
/* Iterates over the links; the current one may be removed or freed. */
#define list_for_each_safe(it, nx, head) \
	for (struct list *it = (head)->next, *nx = it->next; it != (head); it = nx, nx = it->next)

#endif
