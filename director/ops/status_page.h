// The status page at / (what HAProxy's stats page is to HAProxy): one self-contained HTML
// document, inline CSS and script and nothing fetched from elsewhere, that refreshes itself
// from /status.json. Read-only: it offers no action.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "director/control/director.h"

namespace tsd::director {

// The director's own figures and every node view. Built in one call on the loop thread, so one
// document never mixes two configurations: a reload is another callback on the same loop.
nlohmann::json statusJson(const Director& d);
// The body of GET /status.json.
std::string statusDocument(const Director& d);
// The body of GET /: the page with the current document embedded, so the first paint needs no
// round trip.
std::string statusPage(const Director& d);
// JSON made safe inside an HTML <script> element: '<', '>' and '&' become \u escapes (valid
// JSON, and no "</script>" or "<!--" can end the element early).
std::string jsonForScript(std::string_view json);
// The Content-Security-Policy of the page: nothing from elsewhere, no inline event handlers,
// and only the page's own script (by its hash) runs.
const std::string& statusPagePolicy();
// The page's markup and style with a marker where the document goes, and its script
// (status_page_html.cc).
std::string_view statusPageHtml();
std::string_view statusPageScript();

}  // namespace tsd::director
