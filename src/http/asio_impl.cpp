// The one translation unit that compiles Asio, Asio-SSL and Beast (STYLE §3.7). Every target that
// touches Asio links mini8s_asio, which carries the *_SEPARATE_COMPILATION definitions PUBLIC so
// that all translation units agree.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
