# SPDX-License-Identifier: LGPL-2.1-or-later
"""The GObject introspection modules the package uses, initialised once.

Gst and GstVideo are required (they describe every video format).
GstMemmap (libgstmemmap's typelib) is needed only to decode videos and to
map files through the engine; without it the package still reads frame
stores (pure numpy), and what needs it raises an ImportError that says why.
"""

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstVideo', '1.0')
from gi.repository import Gst, GstVideo  # noqa: E402,F401

# Gst.init() before any other GStreamer call, as in C: without it GLib
# prints assertion warnings (gst_init_check not called) on the first use.
if not Gst.is_initialized():
    Gst.init(None)

try:
    gi.require_version('GstMemmap', '1.0')
    from gi.repository import GstMemmap  # noqa: E402
    GstMemmap.init()
    GSTMEMMAP_ERROR = None
except (ImportError, ValueError) as e:
    GstMemmap = None
    GSTMEMMAP_ERROR = e


def gstmemmap():
    """The GstMemmap module, or an ImportError saying why it is missing."""
    if GstMemmap is None:
        raise ImportError('the GstMemmap-1.0 typelib (libgstmemmap) cannot be '
                          'loaded: %s (set GI_TYPELIB_PATH and '
                          'LD_LIBRARY_PATH for a build tree)'
                          % GSTMEMMAP_ERROR)
    return GstMemmap


def structure_to_dict(s):
    """A Gst.Structure as a dict of its fields (None gives {})."""
    if s is None:
        return {}
    return {s.nth_field_name(i): s.get_value(s.nth_field_name(i))
            for i in range(s.n_fields())}
