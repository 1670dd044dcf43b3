/* SPDX-License-Identifier: Apache-2.0
 *
 * ike: the table of IKE backends.
 */
#include "config.h"
#include "ike.h"

#include <string.h>

static const struct ike_backend_class *const classes[] = {
    &ike_strongswan_class,
    &ike_libreswan_class,
};

const struct ike_backend_class *
ike_class_find(const char *name)
{
    for (size_t i = 0; i < sizeof classes / sizeof *classes; i++) {
        if (!strcmp(classes[i]->name, name)) {
            return classes[i];
        }
    }
    return NULL;
}
