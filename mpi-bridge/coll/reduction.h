// The element types and predefined operations libionet-coll reduces itself. Anything else
// (user-defined ops, derived datatypes, pair types, bitwise ops on floats) is not covered and
// falls through to Open MPI.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <optional>

namespace ionet::coll {

enum class Element {
  kInt8,
  kUint8,
  kInt16,
  kUint16,
  kInt32,
  kUint32,
  kInt64,
  kUint64,
  kFloat,
  kDouble
};
enum class Op { kSum, kProd, kMax, kMin, kBand, kBor, kBxor, kLand, kLor, kLxor };

std::optional<Element> elementOf(MPI_Datatype type);
std::optional<Op> opOf(MPI_Op op);
std::size_t sizeOf(Element e);
bool isFloating(Element e);

// acc[i] = acc[i] op in[i] for i < n, as Open MPI's own operation computes it (integers wrap).
// nullptr for pairs MPI does not define (bitwise or logical ops on floats).
using Reducer = void (*)(void* acc, const void* in, std::size_t n);
Reducer reducerFor(Element e, Op op);

// A predefined datatype whose elements lie back to back (size == extent): one that libionet-coll
// may move as bytes (MPI_BYTE, MPI_CHAR, MPI_INT, ...; not MPI_DOUBLE_INT or derived types).
bool isPlainBytes(MPI_Datatype type, std::size_t* size);

}  // namespace ionet::coll
