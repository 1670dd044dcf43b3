/* SPDX-License-Identifier: Apache-2.0
 *
 * list: intrusive circular doubly linked list.  A 'struct ovs_list' node is
 * embedded in each element; the list owns nothing.
 */
#ifndef OVSEC_LIST_H
#define OVSEC_LIST_H 1

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

struct ovs_list {
    struct ovs_list *prev;      /* Previous element, or the list head. */
    struct ovs_list *next;      /* Next element, or the list head. */
};

#define OVS_LIST_INITIALIZER(LIST) { LIST, LIST }

static inline void
ovs_list_init(struct ovs_list *list)
{
    list->next = list->prev = list;
}

static inline void
ovs_list_insert(struct ovs_list *before, struct ovs_list *elem)
{
    elem->prev = before->prev;
    elem->next = before;
    before->prev->next = elem;
    before->prev = elem;
}

static inline void
ovs_list_push_back(struct ovs_list *list, struct ovs_list *elem)
{
    ovs_list_insert(list, elem);
}

static inline void
ovs_list_push_front(struct ovs_list *list, struct ovs_list *elem)
{
    ovs_list_insert(list->next, elem);
}

/* Removes 'elem' and returns the element that followed it. */
static inline struct ovs_list *
ovs_list_remove(struct ovs_list *elem)
{
    elem->prev->next = elem->next;
    elem->next->prev = elem->prev;
    return elem->next;
}

static inline bool
ovs_list_is_empty(const struct ovs_list *list)
{
    return list->next == list;
}

static inline struct ovs_list *
ovs_list_pop_front(struct ovs_list *list)
{
    struct ovs_list *front = list->next;
    ovs_list_remove(front);
    return front;
}

static inline size_t
ovs_list_size(const struct ovs_list *list)
{
    size_t n = 0;
    for (const struct ovs_list *e = list->next; e != list; e = e->next) {
        n++;
    }
    return n;
}

#define LIST_FOR_EACH(ITER, MEMBER, LIST)                               \
    for (ITER = CONTAINER_OF((LIST)->next, __typeof__(*ITER), MEMBER);  \
         &(ITER)->MEMBER != (LIST);                                     \
         ITER = CONTAINER_OF((ITER)->MEMBER.next, __typeof__(*ITER), MEMBER))

/* Safe against removal of ITER.  NEXT is a second iterator variable. */
#define LIST_FOR_EACH_SAFE(ITER, NEXT, MEMBER, LIST)                       \
    for (ITER = CONTAINER_OF((LIST)->next, __typeof__(*ITER), MEMBER);     \
         (&(ITER)->MEMBER != (LIST)                                        \
          ? (NEXT = CONTAINER_OF((ITER)->MEMBER.next, __typeof__(*ITER),   \
                                 MEMBER), 1)                               \
          : 0);                                                            \
         ITER = NEXT)

#define LIST_FOR_EACH_POP(ITER, MEMBER, LIST)                              \
    while (!ovs_list_is_empty(LIST)                                        \
           && (ITER = CONTAINER_OF(ovs_list_pop_front(LIST),               \
                                   __typeof__(*ITER), MEMBER), 1))

#endif /* list.h */
