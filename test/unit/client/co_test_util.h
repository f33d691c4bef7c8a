// Helpers for driving coroutines from Catch2 tests on one io_context, without sleeping.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "mini8s/common/check.h"

namespace mini8s::testutil {

template <class T>
boost::asio::awaitable<void> CaptureInto(boost::asio::awaitable<T> aw, std::optional<T>* out) {
  out->emplace(co_await std::move(aw));
}

inline void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// Runs `aw` on `io` until it completes (bounded by `limit` of real time) and returns its value.
template <class T>
T RunCo(boost::asio::io_context& io, boost::asio::awaitable<T> aw,
        std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  std::optional<T> out;
  boost::asio::co_spawn(io, CaptureInto(std::move(aw), &out), Rethrow);
  auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!out && std::chrono::steady_clock::now() < deadline) io.run_one_for(limit);
  MINI8S_CHECK(out.has_value()) << "coroutine did not complete";
  return std::move(*out);
}

// Runs every ready handler (no waiting).
inline void Poll(boost::asio::io_context& io) {
  io.restart();
  io.poll();
}

}  // namespace mini8s::testutil
