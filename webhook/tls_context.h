// The webhook's TLS settings: an OpenSSL server context from a PEM certificate chain and key, TLS
// 1.2 or newer, no ALPN (the API server then speaks HTTP/1.1).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace podrouter::webhook {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslContext = std::unique_ptr<SSL_CTX, SslCtxFree>;

// Loads `cert_file` (the certificate, then any intermediates) and `key_file` and checks that they
// belong together. On failure returns null and sets *error, naming the file and OpenSSL's reason
// (an encrypted key is one: podrouter never asks for a pass phrase).
SslContext LoadTlsContext(const std::string& cert_file, const std::string& key_file,
                          std::string* error);

// OpenSSL's reason for the most recent failure on this thread ("unknown" when it gave none), and
// clears its error queue.
std::string TlsError();

}  // namespace podrouter::webhook
