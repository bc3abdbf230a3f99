// LoadTlsContext: OpenSSL's own PEM loading and key check.
#include "webhook/tls_context.h"

#include <openssl/err.h>

namespace podrouter::webhook {

std::string TlsError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

SslContext LoadTlsContext(const std::string& cert_file, const std::string& key_file,
                          std::string* error) {
  SslContext ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    *error = "cannot create a TLS context: " + TlsError();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION);
  // An encrypted key is an error, not a pass-phrase prompt on the terminal (or a hang without one).
  SSL_CTX_set_default_passwd_cb(ctx.get(), [](char*, int, int, void*) { return 0; });
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) {
    *error = "cannot load the TLS certificate " + cert_file + ": " + TlsError();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = "cannot load the TLS key " + key_file + ": " + TlsError();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    *error = "the TLS key " + key_file + " does not belong to the certificate " + cert_file;
    ERR_clear_error();
    return nullptr;
  }
  return ctx;
}

}  // namespace podrouter::webhook
