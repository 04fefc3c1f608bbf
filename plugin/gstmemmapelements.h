/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

void memmap_element_init (GstPlugin * plugin);

G_END_DECLS
