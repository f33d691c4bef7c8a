// Result<T>: a T or a non-OK Status. The API deliberately matches std::expected (has_value, value,
// error, operator*, operator->, value_or) so that moving to C++23 is a rename. A Result converts
// implicitly from a T and from a non-OK Status (Envoy's StatusOr does the same).
// Thread-compatible.
#pragma once

#include <type_traits>
#include <utility>
#include <variant>

#include "mini8s/common/check.h"
#include "mini8s/common/status.h"

namespace mini8s {

template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "use Status directly");

 public:
  using value_type = T;

  Result(const T& v) : v_(std::in_place_index<0>, v) {}  // NOLINT(runtime/explicit)
  Result(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT(runtime/explicit)
  template <class U, class = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                              !std::is_same_v<std::decay_t<U>, Result> &&
                                              !std::is_same_v<std::decay_t<U>, Status> &&
                                              !std::is_same_v<std::decay_t<U>, T>>>
  Result(U&& u) : v_(std::in_place_index<0>, std::forward<U>(u)) {}  // NOLINT
  Result(Status s) : v_(std::in_place_index<1>, std::move(s)) {  // NOLINT(runtime/explicit)
    MINI8S_CHECK(!std::get<1>(v_).ok()) << "Result constructed from an OK Status";
  }

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  bool ok() const { return has_value(); }

  T& value() & {
    CheckValue();
    return std::get<0>(v_);
  }
  const T& value() const& {
    CheckValue();
    return std::get<0>(v_);
  }
  T&& value() && {
    CheckValue();
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }

  // The error; must only be called when !has_value().
  const Status& error() const& {
    MINI8S_CHECK(!has_value()) << "Result::error() on a value";
    return std::get<1>(v_);
  }
  Status&& error() && {
    MINI8S_CHECK(!has_value()) << "Result::error() on a value";
    return std::get<1>(std::move(v_));
  }
  // OK when there is a value, else the error.
  Status status() const { return has_value() ? Status() : std::get<1>(v_); }

 private:
  void CheckValue() const {
    MINI8S_CHECK(has_value()) << "Result::value() on error: " << std::get<1>(v_).ToString();
  }
  std::variant<T, Status> v_;
};

}  // namespace mini8s

#define MINI8S_CONCAT_INNER_(a, b) a##b
#define MINI8S_CONCAT_(a, b) MINI8S_CONCAT_INNER_(a, b)

// MINI8S_ASSIGN_OR_RETURN(auto x, Foo()); returns the error from the enclosing function.
#define MINI8S_ASSIGN_OR_RETURN(lhs, expr) \
  MINI8S_ASSIGN_OR_RETURN_IMPL_(MINI8S_CONCAT_(mini8s_result_, __LINE__), lhs, expr)
#define MINI8S_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.has_value()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()
