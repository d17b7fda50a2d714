// Segment is header-only; this file keeps the one-library-per-layer build uniform.
#include "trickle/protocol/segment.hpp"
