/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (memmapsink);
GST_ELEMENT_REGISTER_DECLARE (memmapsrc);
GST_ELEMENT_REGISTER_DECLARE (memmapcache);
GST_ELEMENT_REGISTER_DECLARE (memmaprtpframefilter);
GST_TYPE_FIND_REGISTER_DECLARE (memmap_store);

G_END_DECLS
