// SwiftPM needs one source file in a C target; the functions live in libwstether_ffi.
#include "wstether_ffiFFI.h"
