// The systemd notification protocol (sd_notify(3)) without libsystemd: READY=1 at start, and
// MAINPID=<new> before a hand-over ends this process, so systemd follows the new one.
// A no-op when NOTIFY_SOCKET is unset (not started by systemd with Type=notify).
#pragma once

#include <string>

namespace tsd::director {

// Sends `state` (e.g. "READY=1"); with `barrier`, waits (up to 5 s) until systemd has
// processed it and everything sent before (sd_notify_barrier). False when not under systemd
// or on an error.
bool sdNotify(const std::string& state, bool barrier = false);

}  // namespace tsd::director
