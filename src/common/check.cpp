#include "mini8s/common/check.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace mini8s::detail {

CheckFailure::CheckFailure(const char* file, int line, const char* expr) {
  stream_ << "F " << file << ":" << line << "] CHECK failed: " << expr << " ";
}

CheckFailure::~CheckFailure() {
  stream_ << "\n";
  std::string msg = stream_.str();
  ssize_t ignored = ::write(STDERR_FILENO, msg.data(), msg.size());
  (void)ignored;
  std::abort();
}

}  // namespace mini8s::detail
