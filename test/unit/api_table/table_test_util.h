// Helpers shared by the table tests: the built-in registry, a fixed "now" and cell lookup by
// column name.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/registry.h"
#include "mini8s/api/table.h"
#include "mini8s/common/clock.h"

namespace mini8s::api::testing {

inline std::shared_ptr<Registry> SharedRegistry() {
  static std::shared_ptr<Registry> r = Registry::NewBuiltin();
  return r;
}

// Every test measures ages from 2026-01-01T12:00:00Z.
inline std::chrono::system_clock::time_point Now() { return *ParseRfc3339("2026-01-01T12:00:00Z"); }

inline KindInfoConstSharedPtr Kind(std::string_view group, std::string_view version,
                                   std::string_view kind) {
  KindInfoConstSharedPtr k = SharedRegistry()->FindKind(group, version, kind);
  REQUIRE(k != nullptr);
  return k;
}

// The cell under the column called `column` ("Status", "IP", ...).
inline boost::json::value Cell(const KindInfo& kind, std::string_view object_json,
                               std::string_view column) {
  boost::json::value obj = boost::json::parse(object_json);
  std::vector<boost::json::value> cells = RowCells(kind, obj.as_object(), Now());
  REQUIRE(cells.size() == kind.columns.size());
  for (size_t i = 0; i < kind.columns.size(); ++i) {
    if (kind.columns[i].name == column) return cells[i];
  }
  FAIL("no column " << column << " in " << kind.kind);
  return nullptr;
}

// All cells of a row as compact JSON, for whole-row comparisons.
inline std::string RowJson(const KindInfo& kind, std::string_view object_json) {
  boost::json::value obj = boost::json::parse(object_json);
  std::vector<boost::json::value> cells = RowCells(kind, obj.as_object(), Now());
  return boost::json::serialize(boost::json::array(cells.begin(), cells.end()));
}

}  // namespace mini8s::api::testing
