// Boost.Asio and Boost.Beast compiled once for the whole project.
//
// Both libraries are header-only by default, so every file that includes them compiles
// their non-template code again (about 5 s per file at -O3 on a 2-core host). With
// BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION defined for every
// file (top CMakeLists.txt), the headers only declare that code and this file defines it.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
