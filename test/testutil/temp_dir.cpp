#include "testutil/temp_dir.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "mini8s/common/check.h"

namespace mini8s::testutil {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/mini8s-test-XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  MINI8S_CHECK(made != nullptr) << "mkdtemp " << tmpl;
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace mini8s::testutil
