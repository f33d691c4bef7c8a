#include "mini8s/api/quantity.h"

#include <cmath>
#include <limits>

namespace mini8s::api {

namespace {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

constexpr int kMaxDigits128 = 38;  // every 38-digit decimal fits in a signed 128-bit integer
constexpr int32_t kNanoExp = -9;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSuffixChar(char c) {
  return std::string_view("eEinumkKMGTP").find(c) != std::string_view::npos;
}

Int128 Pow10(int n) {
  Int128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

bool MulOverflows(Int128 a, Int128 b, Int128* out) { return __builtin_mul_overflow(a, b, out); }

std::string ToDecimal(Int128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  UInt128 u = neg ? static_cast<UInt128>(-(v + 1)) + 1 : static_cast<UInt128>(v);
  std::string s;
  while (u > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  return neg ? "-" + s : s;
}

// The pieces of a quantity string, as upstream's parseQuantityString splits them.
struct Split {
  bool positive = true;
  std::string value;  // sign, digits and fraction as written
  std::string num;    // integer digits without leading zeros ("0" if none)
  std::string denom;  // fraction digits
  std::string suffix;
};

bool SplitQuantity(std::string_view str, Split& out) {
  size_t pos = 0;
  const size_t end = str.size();
  if (pos < end) {
    if (str[0] == '-') {
      out.positive = false;
      ++pos;
    } else if (str[0] == '+') {
      ++pos;
    }
  }
  while (true) {  // leading zeros
    if (pos >= end) {
      out.num = "0";
      out.value = out.num;
      return true;
    }
    if (str[pos] != '0') break;
    ++pos;
  }
  size_t i = pos;
  while (i < end && IsDigit(str[i])) ++i;
  out.num = std::string(str.substr(pos, i - pos));
  if (i >= end) {
    out.value = std::string(str);
    if (out.num.empty()) out.num = "0";
    return true;
  }
  pos = i;
  if (out.num.empty()) out.num = "0";
  if (str[pos] == '.') {
    ++pos;
    i = pos;
    while (i < end && IsDigit(str[i])) ++i;
    out.denom = std::string(str.substr(pos, i - pos));
    if (i >= end) {
      out.value = std::string(str);
      return true;
    }
    pos = i;
  }
  out.value = std::string(str.substr(0, pos));
  size_t suffix_start = pos;
  i = pos;
  while (i < end && IsSuffixChar(str[i])) ++i;
  if (i >= end) {
    out.suffix = std::string(str.substr(suffix_start));
    return true;
  }
  pos = i;
  if (str[pos] == '-' || str[pos] == '+') ++pos;
  i = pos;
  while (i < end && IsDigit(str[i])) ++i;
  if (i >= end) {
    out.suffix = std::string(str.substr(suffix_start));
    return true;
  }
  return false;
}

struct SuffixInfo {
  int base;
  int32_t exponent;
  Quantity::Format format;
};

bool InterpretSuffix(std::string_view s, SuffixInfo& out) {
  using F = Quantity::Format;
  static constexpr std::pair<std::string_view, int32_t> kDec[] = {
      {"", 0},  {"n", -9}, {"u", -6}, {"m", -3}, {"k", 3},
      {"M", 6}, {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  static constexpr std::pair<std::string_view, int32_t> kBin[] = {
      {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  for (const auto& [name, e] : kDec) {
    if (s == name) {
      out = {10, e, F::kDecimalSI};
      return true;
    }
  }
  for (const auto& [name, e] : kBin) {
    if (s == name) {
      out = {2, e, F::kBinarySI};
      return true;
    }
  }
  if (s.size() > 1 && (s[0] == 'e' || s[0] == 'E')) {
    std::string_view rest = s.substr(1);
    size_t k = 0;
    bool neg = false;
    if (rest[0] == '+' || rest[0] == '-') {
      neg = rest[0] == '-';
      k = 1;
    }
    if (k >= rest.size()) return false;
    int64_t v = 0;
    for (; k < rest.size(); ++k) {
      if (!IsDigit(rest[k])) return false;
      v = v * 10 + (rest[k] - '0');
      if (v > std::numeric_limits<int32_t>::max()) return false;
    }
    out = {10, static_cast<int32_t>(neg ? -v : v), F::kDecimalExponent};
    return true;
  }
  return false;
}

// Removes trailing zero digits: returns the count removed.
int32_t StripZeros(Int128& m) {
  int32_t n = 0;
  if (m == 0) return 0;
  while (m % 10 == 0) {
    m /= 10;
    ++n;
  }
  return n;
}

}  // namespace

std::string Quantity::FormatWrongMessage() {
  return "quantities must match the regular expression '" + std::string(kFormatRegex) + "'";
}

Result<Quantity> Quantity::Parse(std::string_view str) {
  if (str.empty()) return Status::Invalid(FormatWrongMessage());
  if (str == "0") {
    Quantity q;
    q.cached_ = "0";
    return q;
  }
  Split sp;
  if (!SplitQuantity(str, sp)) return Status::Invalid(FormatWrongMessage());
  SuffixInfo suf{};
  if (!InterpretSuffix(sp.suffix, suf)) return Status::Invalid(std::string(kSuffixMessage));

  // Fast path (upstream's int64Amount): exact small values; the text is kept as the canonical
  // form when it already is one.
  const int digits = static_cast<int>(sp.num.size() + sp.denom.size());
  if (suf.format != Format::kBinarySI) {
    int32_t scale = suf.exponent - static_cast<int32_t>(sp.denom.size());
    if (18 - digits >= 0 && scale >= kNanoExp) {
      std::string shifted = sp.num + sp.denom;
      int64_t v = 0;
      for (char c : shifted) v = v * 10 + (c - '0');
      Quantity q(sp.positive ? v : -Int128(v), scale, suf.format);
      bool ends000 = shifted.size() >= 3 && shifted.compare(shifted.size() - 3, 3, "000") == 0;
      if (scale % 3 == 0 && !ends000 && shifted[0] != '0') q.cached_ = std::string(str);
      return q;
    }
  } else if (suf.exponent >= 0 && sp.denom.empty()) {
    int precision = 15 - static_cast<int>(sp.num.size()) -
                    static_cast<int>(static_cast<float>(suf.exponent) * 3 / 10) - 1;
    if (precision >= 0) {
      int64_t v = 0;
      for (char c : sp.num) v = v * 10 + (c - '0');
      Int128 r = Int128(v) << suf.exponent;
      if (r <= std::numeric_limits<int64_t>::max()) {
        Quantity q(sp.positive ? r : -r, 0, suf.format);
        if (suf.exponent % 10 == 0 && (v & 0x07) != 0) q.cached_ = std::string(str);
        return q;
      }
    }
  }

  // General path (upstream's inf.Dec): exact decimal, rounded up to nano precision.
  std::string all = sp.num + sp.denom;
  size_t nz = all.find_first_not_of('0');
  all = nz == std::string::npos ? "0" : all.substr(nz);
  if (static_cast<int>(all.size()) > kMaxDigits128) {
    return Status::Invalid(std::string(kNumericMessage));
  }
  Int128 m = 0;
  for (char c : all) m = m * 10 + (c - '0');
  int32_t e = -static_cast<int32_t>(sp.denom.size());
  Format format = suf.format;
  if (suf.base == 10) {
    e += suf.exponent;
  } else {
    // Binary multiplier applies to the integer value; bring the mantissa to exponent 0 first if
    // that is exact, else multiply the scaled mantissa.
    Int128 mult = Int128(1) << suf.exponent;
    if (MulOverflows(m, mult, &m)) return Status::Invalid(std::string(kNumericMessage));
  }
  if (m != 0 && e < kNanoExp) {
    int k = kNanoExp - e;
    if (k > kMaxDigits128) {
      m = 1;
    } else {
      Int128 div = Pow10(k);
      Int128 r = m / div + ((m % div) != 0 ? 1 : 0);
      m = r;
    }
    e = kNanoExp;
  }
  if (format == Format::kBinarySI) {
    // Clamp to the int64 maximum, as upstream does for binary quantities.
    const Int128 max = std::numeric_limits<int64_t>::max();
    bool over;
    if (e >= 0) {
      over = m != 0 && (e > kMaxDigits128 || m > max / Pow10(e) || m * Pow10(e) > max);
    } else {
      Int128 p = Pow10(-e);
      over = m / p > max || (m / p == max && m % p != 0);
    }
    if (over) {
      m = max;
      e = 0;
    }
    // Below one, a binary quantity prints as decimal.
    bool below_one = e < 0 && m != 0 && m < Pow10(-e);
    if (below_one) format = Format::kDecimalSI;
  }
  return Quantity(sp.positive ? m : -m, e, format);
}

Quantity Quantity::FromScaled(int64_t value, int32_t exp10, Format format) {
  return Quantity(value, exp10, format);
}

std::string Quantity::String() const {
  if (!cached_.empty()) return cached_;
  return Canonical();
}

std::string Quantity::Canonical() const {
  if (mantissa_ == 0) return "0";
  Format f = format_;
  if (f == Format::kBinarySI) {
    if (Cmp(FromInt(-1024)) > 0 && Cmp(FromInt(1024)) < 0) {
      f = Format::kDecimalSI;
    } else {
      Int128 m = mantissa_;
      int32_t e = exp_;
      e += StripZeros(m);
      if (e < 0) f = Format::kDecimalSI;  // not an integer
    }
  }
  if (f == Format::kBinarySI) {
    Int128 m = mantissa_;
    int32_t e = exp_;
    e += StripZeros(m);
    Int128 v = m;
    if (e > 0 && MulOverflows(m, Pow10(e), &v)) {
      f = Format::kDecimalSI;  // beyond our range: print decimal
    } else {
      int times = 0;
      while (v % 1024 == 0) {
        v /= 1024;
        ++times;
      }
      static constexpr std::string_view kBin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
      // Upstream finds no suffix for exponents it does not know and prints none.
      std::string_view s = times < 7 ? kBin[times] : "";
      return ToDecimal(v) + std::string(s);
    }
  }
  Int128 m = mantissa_;
  int32_t e = exp_ + StripZeros(m);
  int32_t rem = e % 3;  // C++ and Go agree on the sign of %
  if (rem == 1 || rem == -2) {
    m *= 10;
    e -= 1;
  } else if (rem == 2 || rem == -1) {
    m *= 100;
    e -= 2;
  }
  std::string suffix;
  if (f == Format::kDecimalExponent) {
    if (e != 0) suffix = "e" + std::to_string(e);
  } else {
    switch (e) {
      case -9:
        suffix = "n";
        break;
      case -6:
        suffix = "u";
        break;
      case -3:
        suffix = "m";
        break;
      case 0:
        break;
      case 3:
        suffix = "k";
        break;
      case 6:
        suffix = "M";
        break;
      case 9:
        suffix = "G";
        break;
      case 12:
        suffix = "T";
        break;
      case 15:
        suffix = "P";
        break;
      case 18:
        suffix = "E";
        break;
      default:
        break;  // upstream prints no suffix for exponents outside the table
    }
  }
  return ToDecimal(m) + suffix;
}

int64_t Quantity::ScaledValue(int32_t exp10) const {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (mantissa_ == 0) return 0;
  int32_t diff = exp_ - exp10;
  Int128 m = mantissa_;
  if (diff >= 0) {
    if (diff > kMaxDigits128 || MulOverflows(m, Pow10(diff), &m)) return m > 0 ? kMax : kMin;
  } else {
    int k = -diff;
    if (k > kMaxDigits128) return m > 0 ? 1 : -1;
    Int128 p = Pow10(k);
    Int128 q = m / p;
    if (m % p != 0) q += (m > 0 ? 1 : -1);
    m = q;
  }
  if (m > kMax) return kMax;
  if (m < kMin) return kMin;
  return static_cast<int64_t>(m);
}

double Quantity::AsApproximateDouble() const {
  return static_cast<double>(mantissa_) * std::pow(10.0, exp_);
}

bool Quantity::Align(Int128& a, int32_t ea, Int128& b, int32_t eb, int32_t& e) {
  if (ea == eb) {
    e = ea;
    return true;
  }
  if (ea > eb) {
    if (a != 0 && (ea - eb > kMaxDigits128 || MulOverflows(a, Pow10(ea - eb), &a))) return false;
    e = eb;
  } else {
    if (b != 0 && (eb - ea > kMaxDigits128 || MulOverflows(b, Pow10(eb - ea), &b))) return false;
    e = ea;
  }
  return true;
}

bool Quantity::Add(const Quantity& y) {
  Int128 a = mantissa_, b = y.mantissa_;
  int32_t e = 0;
  if (a == 0) {
    a = 0;
    if (!Align(a, y.exp_, b, y.exp_, e)) return false;
  } else if (!Align(a, exp_, b, y.exp_, e)) {
    return false;
  }
  Int128 r;
  if (__builtin_add_overflow(a, b, &r)) return false;
  if (mantissa_ == 0) format_ = y.format_;
  mantissa_ = r;
  exp_ = e;
  cached_.clear();
  return true;
}

bool Quantity::Sub(const Quantity& y) {
  Quantity neg = y;
  neg.Neg();
  return Add(neg);
}

void Quantity::Neg() {
  mantissa_ = -mantissa_;
  cached_.clear();
}

int Quantity::Cmp(const Quantity& y) const {
  int sa = Sign(), sb = y.Sign();
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  // Same sign: compare magnitudes by order of magnitude, then aligned mantissas.
  Int128 a = mantissa_ < 0 ? -mantissa_ : mantissa_;
  Int128 b = y.mantissa_ < 0 ? -y.mantissa_ : y.mantissa_;
  int32_t ea = exp_ + StripZeros(a);
  int32_t eb = y.exp_ + StripZeros(b);
  auto digits = [](Int128 v) {
    int n = 0;
    while (v > 0) {
      v /= 10;
      ++n;
    }
    return n;
  };
  int64_t oa = int64_t(ea) + digits(a), ob = int64_t(eb) + digits(b);
  int mag;
  if (oa != ob) {
    mag = oa < ob ? -1 : 1;
  } else {
    int32_t e = 0;
    Align(a, ea, b, eb, e);  // cannot overflow: equal orders of magnitude
    mag = a < b ? -1 : (a > b ? 1 : 0);
  }
  return sa > 0 ? mag : -mag;
}

}  // namespace mini8s::api
