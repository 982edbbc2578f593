// Errors that carry context: IONET_ENFORCE throws ionet::Error with file:line and a message.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace ionet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad user input (command line, hostfile, job script): the message is shown as is.
class UsageError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

}  // namespace ionet

// Throws ionet::Error("file:line: message") unless cond holds.
#define IONET_ENFORCE(cond, ...)                                                                   \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      throw ::ionet::Error(::ionet::detail::concat(__FILE__, ":", __LINE__, ": ", ##__VA_ARGS__)); \
    }                                                                                              \
  } while (0)

#define IONET_THROW(...) IONET_ENFORCE(false, ##__VA_ARGS__)
