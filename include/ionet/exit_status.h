// How every ionet command maps errors to its exit status: a UsageError (bad command line or
// input file) is 2, any other error 1, each reported as one line.
#pragma once

#include <exception>

#include "ionet/error.h"
#include "ionet/log.h"

namespace ionet {

template <typename Body>
int exitStatusOf(Body&& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    log::error(e.what());
    return 2;
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}

}  // namespace ionet
