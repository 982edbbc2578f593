#include "reduction.h"

#include <cstdint>
#include <type_traits>

namespace ionet::coll {
namespace {

// Integer sums and products wrap like Open MPI's (which computes them in the signed type, two's
// complement on every platform it runs on); unsigned arithmetic gives those bits without UB.
template <typename T>
T wrapAdd(T a, T b) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
}
template <typename T>
T wrapMul(T a, T b) {
  using U = std::make_unsigned_t<T>;
  // Promotion of small unsigned types to int could overflow: multiply in a wide unsigned type.
  using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
  return static_cast<T>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b)));
}

template <typename T, Op kOp>
void apply(void* accp, const void* inp, std::size_t n) {
  T* acc = static_cast<T*>(accp);
  const T* in = static_cast<const T*>(inp);
  for (std::size_t i = 0; i < n; ++i) {
    const T a = acc[i];
    const T b = in[i];
    if constexpr (kOp == Op::kSum) {
      if constexpr (std::is_integral_v<T>) {
        acc[i] = wrapAdd(a, b);
      } else {
        acc[i] = a + b;
      }
    } else if constexpr (kOp == Op::kProd) {
      if constexpr (std::is_integral_v<T>) {
        acc[i] = wrapMul(a, b);
      } else {
        acc[i] = a * b;
      }
    } else if constexpr (kOp == Op::kMax) {
      acc[i] = a > b ? a : b;  // Open MPI's MAX(a, b) with a the accumulated value
    } else if constexpr (kOp == Op::kMin) {
      acc[i] = a < b ? a : b;
    } else if constexpr (kOp == Op::kBand) {
      acc[i] = a & b;
    } else if constexpr (kOp == Op::kBor) {
      acc[i] = a | b;
    } else if constexpr (kOp == Op::kBxor) {
      acc[i] = a ^ b;
    } else if constexpr (kOp == Op::kLand) {
      acc[i] = a && b;
    } else if constexpr (kOp == Op::kLor) {
      acc[i] = a || b;
    } else {
      acc[i] = !a != !b;
    }
  }
}

template <typename T>
Reducer reducerOf(Op op) {
  switch (op) {
    case Op::kSum:
      return apply<T, Op::kSum>;
    case Op::kProd:
      return apply<T, Op::kProd>;
    case Op::kMax:
      return apply<T, Op::kMax>;
    case Op::kMin:
      return apply<T, Op::kMin>;
    default:
      break;
  }
  if constexpr (std::is_integral_v<T>) {
    switch (op) {
      case Op::kBand:
        return apply<T, Op::kBand>;
      case Op::kBor:
        return apply<T, Op::kBor>;
      case Op::kBxor:
        return apply<T, Op::kBxor>;
      case Op::kLand:
        return apply<T, Op::kLand>;
      case Op::kLor:
        return apply<T, Op::kLor>;
      case Op::kLxor:
        return apply<T, Op::kLxor>;
      default:
        break;
    }
  }
  return nullptr;
}

template <typename T>
constexpr Element integerElement() {
  constexpr bool s = std::is_signed_v<T>;
  switch (sizeof(T)) {
    case 1:
      return s ? Element::kInt8 : Element::kUint8;
    case 2:
      return s ? Element::kInt16 : Element::kUint16;
    case 4:
      return s ? Element::kInt32 : Element::kUint32;
    default:
      return s ? Element::kInt64 : Element::kUint64;
  }
}

}  // namespace

std::optional<Element> elementOf(MPI_Datatype type) {
  // MPI_CHAR is not a reduction type in MPI (a character, not a number): it falls through.
  const struct {
    MPI_Datatype type;
    Element element;
  } table[] = {
      {MPI_SIGNED_CHAR, Element::kInt8},
      {MPI_UNSIGNED_CHAR, Element::kUint8},
      {MPI_SHORT, integerElement<short>()},
      {MPI_UNSIGNED_SHORT, integerElement<unsigned short>()},
      {MPI_INT, integerElement<int>()},
      {MPI_UNSIGNED, integerElement<unsigned>()},
      {MPI_LONG, integerElement<long>()},
      {MPI_UNSIGNED_LONG, integerElement<unsigned long>()},
      {MPI_LONG_LONG, integerElement<long long>()},
      {MPI_UNSIGNED_LONG_LONG, integerElement<unsigned long long>()},
      {MPI_INT8_T, Element::kInt8},
      {MPI_UINT8_T, Element::kUint8},
      {MPI_INT16_T, Element::kInt16},
      {MPI_UINT16_T, Element::kUint16},
      {MPI_INT32_T, Element::kInt32},
      {MPI_UINT32_T, Element::kUint32},
      {MPI_INT64_T, Element::kInt64},
      {MPI_UINT64_T, Element::kUint64},
      {MPI_FLOAT, Element::kFloat},
      {MPI_DOUBLE, Element::kDouble},
  };
  for (const auto& entry : table) {
    if (entry.type == type) return entry.element;
  }
  return std::nullopt;
}

std::optional<Op> opOf(MPI_Op op) {
  const struct {
    MPI_Op op;
    Op value;
  } table[] = {
      {MPI_SUM, Op::kSum},   {MPI_PROD, Op::kProd}, {MPI_MAX, Op::kMax},   {MPI_MIN, Op::kMin},
      {MPI_BAND, Op::kBand}, {MPI_BOR, Op::kBor},   {MPI_BXOR, Op::kBxor}, {MPI_LAND, Op::kLand},
      {MPI_LOR, Op::kLor},   {MPI_LXOR, Op::kLxor},
  };
  for (const auto& entry : table) {
    if (entry.op == op) return entry.value;
  }
  return std::nullopt;
}

std::size_t sizeOf(Element e) {
  switch (e) {
    case Element::kInt8:
    case Element::kUint8:
      return 1;
    case Element::kInt16:
    case Element::kUint16:
      return 2;
    case Element::kInt32:
    case Element::kUint32:
    case Element::kFloat:
      return 4;
    default:
      return 8;
  }
}

bool isFloating(Element e) { return e == Element::kFloat || e == Element::kDouble; }

Reducer reducerFor(Element e, Op op) {
  switch (e) {
    case Element::kInt8:
      return reducerOf<std::int8_t>(op);
    case Element::kUint8:
      return reducerOf<std::uint8_t>(op);
    case Element::kInt16:
      return reducerOf<std::int16_t>(op);
    case Element::kUint16:
      return reducerOf<std::uint16_t>(op);
    case Element::kInt32:
      return reducerOf<std::int32_t>(op);
    case Element::kUint32:
      return reducerOf<std::uint32_t>(op);
    case Element::kInt64:
      return reducerOf<std::int64_t>(op);
    case Element::kUint64:
      return reducerOf<std::uint64_t>(op);
    case Element::kFloat:
      return reducerOf<float>(op);
    case Element::kDouble:
      return reducerOf<double>(op);
  }
  return nullptr;
}

bool isPlainBytes(MPI_Datatype type, std::size_t* size) {
  int count = 0, addresses = 0, types = 0, combiner = 0;
  if (type == MPI_DATATYPE_NULL ||
      PMPI_Type_get_envelope(type, &count, &addresses, &types, &combiner) != MPI_SUCCESS ||
      combiner != MPI_COMBINER_NAMED) {
    return false;
  }
  int bytes = 0;
  MPI_Aint lb = 0, extent = 0;
  if (PMPI_Type_size(type, &bytes) != MPI_SUCCESS ||
      PMPI_Type_get_extent(type, &lb, &extent) != MPI_SUCCESS) {
    return false;
  }
  if (bytes <= 0 || lb != 0 || extent != bytes) return false;
  *size = static_cast<std::size_t>(bytes);
  return true;
}

}  // namespace ionet::coll
