// Nonces, HMAC-SHA256 and key files for the agent protocol; the only OpenSSL user in
// healthcheck/.
#include "healthcheck/agent_auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace tsd::health {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trimSpace(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

[[noreturn]] void cryptoFailure(const char* what) {
  // Running on without a working CSPRNG or HMAC would silently weaken authentication.
  std::fprintf(stderr, "fatal: OpenSSL %s failed\n", what);
  std::abort();
}

}  // namespace

std::string toHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

bool isLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string makeNonce() {
  std::array<unsigned char, 16> buf{};
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) cryptoFailure("RAND_bytes");
  return toHex(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

std::string macHex(std::string_view key, std::string_view nonce, std::string_view body) {
  std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) cryptoFailure("EVP_MAC_fetch(HMAC)");
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) cryptoFailure("EVP_MAC_CTX_new");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                         OSSL_PARAM_construct_end()};
  // An empty key is legal for HMAC, but OpenSSL wants a non-null pointer.
  static const unsigned char kEmpty = 0;
  const auto* k = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(ctx.get(), k, key.size(), params) != 1) cryptoFailure("EVP_MAC_init");
  if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(nonce.data()),
                     nonce.size()) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(body.data()), body.size()) !=
          1) {
    cryptoFailure("EVP_MAC_update");
  }
  std::array<unsigned char, 32> out{};
  size_t out_len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1 || out_len != 32) {
    cryptoFailure("EVP_MAC_final");
  }
  return toHex(std::string_view(reinterpret_cast<const char*>(out.data()), out_len));
}

bool macEquals(std::string_view received_hex, std::string_view expected_hex) {
  if (received_hex.size() != expected_hex.size()) return false;
  return CRYPTO_memcmp(received_hex.data(), expected_hex.data(), expected_hex.size()) == 0;
}

Result<std::string> parseKey(std::string_view content) {
  std::string_view text = trimSpace(content);
  bool all_hex = !text.empty() && text.size() % 2 == 0;
  for (char c : text) all_hex = all_hex && hexValue(c) >= 0;
  std::string key;
  if (all_hex) {
    for (size_t i = 0; i < text.size(); i += 2) {
      key.push_back(static_cast<char>(hexValue(text[i]) * 16 + hexValue(text[i + 1])));
    }
  } else {
    key.assign(text);
  }
  if (key.size() < kMinKeyBytes) {
    return makeError("key too short: " + std::to_string(key.size()) + " bytes, need at least " +
                     std::to_string(kMinKeyBytes) + " (e.g. openssl rand -hex 32)");
  }
  return key;
}

Result<std::string> loadKey(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return makeError(path + ": cannot open key file");
  std::unique_ptr<int, void (*)(int*)> guard(&fd, [](int* f) { ::close(*f); });
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return makeError(path + ": key file is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return makeError(path + ": key file mode " + mode +
                     " lets group/other access it; run chmod 600 " + path);
  }
  if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
    return makeError(path + ": key file larger than " + std::to_string(kMaxKeyFileBytes) +
                     " bytes");
  }
  std::string content(kMaxKeyFileBytes + 1, '\0');
  size_t got = 0;
  while (got < content.size()) {
    ssize_t n = ::read(fd, content.data() + got, content.size() - got);
    if (n < 0) return makeError(path + ": cannot read key file");
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxKeyFileBytes) return makeError(path + ": key file grew while reading");
  content.resize(got);
  auto key = parseKey(content);
  if (!key) return makeError(path + ": " + key.error());
  return key;
}

}  // namespace tsd::health
