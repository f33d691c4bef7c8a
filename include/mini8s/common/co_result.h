// Coroutine forms of MINI8S_ASSIGN_OR_RETURN / MINI8S_RETURN_IF_ERROR (a coroutine must use
// co_return), for every module that writes coroutines returning Result or Status.
#pragma once

#include "mini8s/common/result.h"

#define MINI8S_CO_ASSIGN_OR_RETURN(lhs, expr) \
  MINI8S_CO_ASSIGN_OR_RETURN_IMPL_(MINI8S_CONCAT_(mini8s_co_result_, __LINE__), lhs, expr)
#define MINI8S_CO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)  \
  auto tmp = (expr);                                      \
  if (!tmp.has_value()) co_return std::move(tmp).error(); \
  lhs = std::move(tmp).value()

#define MINI8S_CO_RETURN_IF_ERROR(expr)                       \
  do {                                                        \
    ::mini8s::Status mini8s_co_status_ = (expr);              \
    if (!mini8s_co_status_.ok()) co_return mini8s_co_status_; \
  } while (0)
