// fer-test-status-server STATUS.json PORT
// Serves a status document from a file through HttpStatusServer on 127.0.0.1:PORT (0:
// any free port) until SIGINT/SIGTERM, so a browser test can load the dashboard without
// a coordinator and its runs. Prints "port N" once it listens. The file is read again
// for every request, so a test can change what the page sees; a file that no longer
// parses makes /status answer 500, as a failing coordinator would.

#include <csignal>
#include <exception>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>

#include "coord/http_status.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fer-test-status-server STATUS.json PORT\n";
    return 2;
  }
  const std::string path = argv[1];
  auto load = [path] {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    return nlohmann::json::parse(in);
  };
  try {
    load();  // A bad file is a usage error at startup, not a page of 500s.
  } catch (const std::exception& e) {
    std::cerr << "fer-test-status-server: " << path << ": " << e.what() << "\n";
    return 2;
  }
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(argv[2], &used);
    if (used != std::string(argv[2]).size() || port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    std::cerr << "fer-test-status-server: bad port '" << argv[2] << "'\n";
    return 2;
  }
  try {
    boost::asio::io_context io;
    fer::coord::HttpStatusServer server(
        io,
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                       static_cast<unsigned short>(port)),
        load);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
      server.stop();
      signals.cancel();
    });
    // The test script reads this line to learn where to point the browser.
    std::cout << "port " << server.port() << std::endl;
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "fer-test-status-server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
