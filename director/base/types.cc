// Names of the shared enums, as metrics labels and logs show them.
#include "director/base/types.h"

namespace tsd::director {

std::string_view toString(Reason r) {
  switch (r) {
    case Reason::kManual:
      return "manual";
    case Reason::kSession:
      return "session";
    case Reason::kSticky:
      return "sticky";
    case Reason::kScheduler:
      return "scheduler";
    case Reason::kFallback:
      return "fallback";
    case Reason::kUser:
      return "user";
  }
  return "?";
}

}  // namespace tsd::director
