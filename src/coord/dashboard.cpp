// The dashboard page served at "/". It is kept as real files (page/dashboard.html,
// .css, .js: edited and linted as a page), embedded at build time
// (cmake/embed_files.cmake) and served as one self-contained document (the CSS and
// JavaScript inlined; no external scripts, fonts or images) because the coordinator
// often runs on a cluster node without Internet access and the page must work from
// there as is.
// The page builds its DOM with textContent only, never innerHTML with data, since run
// names, host names and file names come from the ranks.
//
// For tests (tests/coord_http/dashboard_browser.sh) it exposes stable hooks:
//   #summary    "run <name>: epoch <E>, val accuracy <xx.x>%"
//   #confusion  the heat-map table, one <td data-count="N"> per matrix cell
//   #error      shown while /status cannot be fetched

#include <string>

#include "common/embedded_file.hpp"
#include "coord/http_status.hpp"

namespace fer::coord {

const std::vector<EmbeddedFile>& dashboard_files();  // generated: dashboard_files.cpp

const std::string& dashboard_html() {
  static const std::string page = inline_page_assets(dashboard_files(), "dashboard.html");
  return page;
}

}  // namespace fer::coord
