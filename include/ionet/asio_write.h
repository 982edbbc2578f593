// Whole-buffer asynchronous writes that offer the kernel everything at once.
//
// asio::async_write's own completion conditions cap each step at 64 KiB
// (asio::detail::default_max_transfer_size) and return to the reactor between steps, so a 1 MiB
// write costs 16 send() calls and 16 epoll_wait() passes. Measured on the data path (strace of
// the forwarders during NetPIPE): every 256 KiB chunk went out as four 64 KiB sends with an
// empty epoll_wait between each. Here each step offers all that is left and the kernel takes
// what its socket buffer holds.
#pragma once

#include <asio.hpp>
#include <cstddef>
#include <limits>
#include <utility>

namespace ionet {

struct TransferAllAtOnce {
  std::size_t operator()(const asio::error_code& ec, std::size_t) const {
    return ec ? 0 : std::numeric_limits<std::size_t>::max();
  }
};

// asio::async_write(stream, buffers, handler), without the 64 KiB steps.
template <typename Stream, typename Buffers, typename Handler>
void asyncWriteAll(Stream& stream, const Buffers& buffers, Handler&& handler) {
  asio::async_write(stream, buffers, TransferAllAtOnce{}, std::forward<Handler>(handler));
}

}  // namespace ionet
