// MINI8S_CHECK(cond) << "why": crash with a message when an invariant is broken (Envoy's
// RELEASE_ASSERT). Never use it for conditions imposed by input or the network.
// MINI8S_DCHECK is the debug-only variant for expensive checks.
#pragma once

#include <sstream>

namespace mini8s::detail {

// Collects the streamed message and aborts in its destructor.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* expr);
  [[noreturn]] ~CheckFailure();
  template <class T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets `cond ? (void)0 : Voidify() & CheckFailure(...) << x` type-check.
struct Voidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace mini8s::detail

#define MINI8S_CHECK(cond)                  \
  (cond) ? (void)0                          \
         : ::mini8s::detail::Voidify() &    \
               ::mini8s::detail::CheckFailure(__FILE__, __LINE__, #cond)

#ifdef NDEBUG
#define MINI8S_DCHECK(cond) MINI8S_CHECK(true)
#else
#define MINI8S_DCHECK(cond) MINI8S_CHECK(cond)
#endif
