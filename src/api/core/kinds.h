// Hand-written per-kind facts the OpenAPI file does not carry: short names, categories, Table
// columns (and which built-in printer fills each cell), selectable fields, scale paths.
// Private to api/core; the data lives in kinds.cpp.
#pragma once

#include <vector>

#include "mini8s/api/schema.h"

namespace mini8s::api::detail {

// Adds the hand-written facts for `info` (matched by group and kind). Kinds without an entry get
// the default Name/Age columns. Thread-safe (reads constant tables only).
void ApplyBuiltinKindFacts(KindInfo& info);

// The columns every kind without printers gets: Name and Age (upstream's default table).
std::vector<TableColumn> DefaultColumns();

}  // namespace mini8s::api::detail
