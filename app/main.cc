// podrouter's entry point: parses the command line, loads the config and wires the Server.
#include <signal.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "app/server.h"
#include "app/version.h"
#include "base/file.h"
#include "base/log.h"
#include "config/loader.h"
#include "config/values.h"
#include "inject/inject.h"
#include "metrics/metrics.h"
#include "webhook/webhook_server.h"

namespace {

constexpr char kUsage[] =
    "usage: podrouter run --config FILE [--log-level error|warn|info|debug]\n"
    "       podrouter validate --config FILE\n"
    "       podrouter inject [-f MANIFEST] [--image IMAGE] [--config-map NAME] [--native-sidecar]\n"
    "                        [--admin-port PORT]   (MANIFEST or stdin -> stdout)\n"
    "       podrouter webhook --tls-cert FILE --tls-key FILE [--listen IP:PORT] [--image IMAGE]\n"
    "                         [--config-map NAME] [--native-sidecar] [--admin-port PORT]\n"
    "                         [--log-level L]   (HTTPS; POST /inject, /inject-namespace)\n"
    "       podrouter version\n"
    "FILE may also come from $PODROUTER_CONFIG; the log level from $PODROUTER_LOG_LEVEL.\n";

// `inject -f` reads at most this much (a large cluster's `kubectl get -A -o yaml` is a few MiB).
constexpr size_t kMaxManifestBytes = 256 << 20;

int Usage(const char* problem) {
  if (problem) fprintf(stderr, "podrouter: %s\n", problem);
  fputs(kUsage, stderr);
  return 1;
}

struct Flags {
  std::string config;
  std::string log_level;
};

// Parses `--config FILE`, `--config=FILE`, `-c FILE` and `--log-level L`; false on anything else.
bool ParseFlags(const std::vector<std::string>& args, Flags* flags, std::string* problem) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string* target = nullptr;
    std::string value;
    for (auto [name, slot] : {std::pair{"--config", &flags->config},
                              {"-c", &flags->config},
                              {"--log-level", &flags->log_level}}) {
      std::string n = name;
      if (a == n) {
        if (i + 1 >= args.size()) {
          *problem = n + " needs a value";
          return false;
        }
        target = slot;
        value = args[++i];
      } else if (a.rfind(n + "=", 0) == 0) {
        target = slot;
        value = a.substr(n.size() + 1);
      }
      if (target) break;
    }
    if (!target) {
      *problem = "unknown argument '" + a + "'";
      return false;
    }
    *target = value;
  }
  if (flags->config.empty()) {
    if (const char* env = getenv("PODROUTER_CONFIG")) flags->config = env;
  }
  if (flags->config.empty()) {
    *problem = "missing --config FILE (or $PODROUTER_CONFIG)";
    return false;
  }
  if (flags->log_level.empty()) {
    if (const char* env = getenv("PODROUTER_LOG_LEVEL")) flags->log_level = env;
  }
  return true;
}

// Loads the config, printing one line per problem. nullopt when there were any.
std::optional<podrouter::config::Config> Load(const std::string& path) {
  podrouter::config::LoadResult result = podrouter::config::LoadConfigFile(path);
  for (const auto& e : result.errors) fprintf(stderr, "%s\n", e.ToString().c_str());
  return std::move(result.config);
}

int Run(const Flags& flags) {
  if (!flags.log_level.empty()) {
    podrouter::LogLevel level;
    if (!podrouter::ParseLogLevel(flags.log_level, &level)) {
      return Usage("log level must be error, warn, info or debug");
    }
    podrouter::SetLogLevel(level);
  }
  auto config = Load(flags.config);
  if (!config) return 1;
  signal(SIGPIPE, SIG_IGN);  // a peer that vanished is an error value, not a signal

  uv_loop_t loop;
  uv_loop_init(&loop);
  int status = 0;
  {
    podrouter::metrics::Metrics metrics(podrouter::kVersion);
    podrouter::Server server(&loop, flags.config, &metrics);
    std::string error;
    if (!server.Start(std::move(*config), &error)) {
      fprintf(stderr, "podrouter: %s\n", error.c_str());
      status = 1;
    } else {
      LOG_INFO("event=started version=%s config=%s pid=%d", podrouter::kVersion,
               flags.config.c_str(), static_cast<int>(getpid()));
    }
    uv_run(&loop, UV_RUN_DEFAULT);  // after a failed start: only close callbacks run
  }
  if (uv_loop_close(&loop) != 0) {
    LOG_ERROR("event=exit note=\"handles left open at exit\"");
  }
  return status;
}

// The flags `inject` and `webhook` share, describing the sidecar: --image, --config-map,
// --native-sidecar, --admin-port. Consumes args[*i] (and its value) when it is one of them and
// returns true; sets *problem when its value is missing or wrong.
bool SidecarFlag(const std::vector<std::string>& args, size_t* i,
                 podrouter::config::InjectOptions* options, std::string* problem) {
  const std::string& a = args[*i];
  if (a == "--native-sidecar") {
    options->native_sidecar = true;
    return true;
  }
  if (a != "--image" && a != "--config-map" && a != "--admin-port") return false;
  if (*i + 1 >= args.size()) {
    *problem = a + " needs a value";
    return true;
  }
  const std::string& value = args[++*i];
  if (a == "--image") options->image = value;
  if (a == "--config-map") options->config_map = value;
  if (a == "--admin-port") {
    char* end = nullptr;
    long n = strtol(value.c_str(), &end, 10);
    if (value.empty() || *end || n < 1 || n > 65535) *problem = "--admin-port takes 1-65535";
    options->admin_port = static_cast<uint16_t>(n);
  }
  return true;
}

podrouter::config::InjectOptions DefaultSidecar() {
  podrouter::config::InjectOptions options;
  options.image = std::string("podrouter:") + podrouter::kVersion;
  return options;
}

int Inject(const std::vector<std::string>& args) {
  podrouter::config::InjectOptions options = DefaultSidecar();
  std::string file;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string problem;
    if (SidecarFlag(args, &i, &options, &problem)) {
      if (!problem.empty()) return Usage(problem.c_str());
    } else if ((a == "-f" || a == "--file") && i + 1 < args.size()) {
      file = args[++i];
    } else {
      return Usage(("inject: unexpected argument '" + a + "'").c_str());
    }
  }
  if (std::string problem = podrouter::config::OptionsProblem(options); !problem.empty()) {
    return Usage(("inject: " + problem).c_str());
  }
  std::string input;
  if (file.empty() || file == "-") {
    input.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::string error;
    if (!podrouter::ReadRegularFile(file, kMaxManifestBytes, &input, &error)) {
      fprintf(stderr, "podrouter: inject: %s: %s\n", file.c_str(), error.c_str());
      return 1;
    }
  }
  podrouter::config::InjectResult result = podrouter::config::Inject(input, options);
  const std::string name = file.empty() ? "<stdin>" : file;
  for (const auto& e : result.errors) fprintf(stderr, "%s: %s\n", name.c_str(), e.c_str());
  if (!result.errors.empty()) return 1;  // nothing written
  fwrite(result.output.data(), 1, result.output.size(), stdout);
  fprintf(stderr, "podrouter: injected %d workload(s), %d already had the sidecar", result.injected,
          result.already);
  if (result.converted > 0) {
    fprintf(stderr, ", %d converted to the native-sidecar form (it could not work as it was)",
            result.converted);
  }
  fputc('\n', stderr);
  return 0;
}

int Webhook(const std::vector<std::string>& args) {
  podrouter::webhook::WebhookOptions options;
  options.inject = DefaultSidecar();
  std::string listen = "0.0.0.0:8443";
  std::string log_level;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string problem;
    if (SidecarFlag(args, &i, &options.inject, &problem)) {
      if (!problem.empty()) return Usage(problem.c_str());
      continue;
    }
    std::string* slot = a == "--listen"      ? &listen
                        : a == "--tls-cert"  ? &options.cert_file
                        : a == "--tls-key"   ? &options.key_file
                        : a == "--log-level" ? &log_level
                                             : nullptr;
    if (!slot) return Usage(("webhook: unexpected argument '" + a + "'").c_str());
    if (i + 1 >= args.size()) return Usage((a + " needs a value").c_str());
    *slot = args[++i];
  }
  if (options.cert_file.empty() || options.key_file.empty()) {
    return Usage("webhook: --tls-cert FILE and --tls-key FILE are required");
  }
  if (std::string problem = podrouter::config::OptionsProblem(options.inject); !problem.empty()) {
    return Usage(("webhook: " + problem).c_str());
  }
  std::string error;
  auto bind = podrouter::config::ParseBindAddress(listen, false, &error);
  if (!bind) return Usage(("webhook: --listen: " + error).c_str());
  options.listen = *bind;
  if (!log_level.empty()) {
    podrouter::LogLevel level;
    if (!podrouter::ParseLogLevel(log_level, &level)) {
      return Usage("log level must be error, warn, info or debug");
    }
    podrouter::SetLogLevel(level);
  }
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto server = podrouter::webhook::WebhookServer::Start(&loop, std::move(options), &error);
  if (!server) {
    fprintf(stderr, "podrouter: webhook: %s\n", error.c_str());
    uv_run(&loop, UV_RUN_DEFAULT);  // close callbacks
    uv_loop_close(&loop);
    return 1;
  }
  // SIGTERM or SIGINT: stop listening, let the requests in flight be answered (each has at most
  // 10 s), exit 0; a second one closes what is left. SIGHUP: nothing to reload (the certificate
  // and flags are read at start), so it is logged instead of ending the process.
  struct Signals {
    uv_signal_t term, intr, hup;
    std::unique_ptr<podrouter::webhook::WebhookServer> server;
    podrouter::webhook::WebhookServer* draining = nullptr;
  } sig{{}, {}, {}, std::move(server)};
  for (auto [handle, signo] :
       {std::pair{&sig.term, SIGTERM}, {&sig.intr, SIGINT}, {&sig.hup, SIGHUP}}) {
    uv_signal_init(&loop, handle);
    handle->data = &sig;
    uv_signal_start(
        handle,
        [](uv_signal_t* s, int signo) {
          auto* st = static_cast<Signals*>(s->data);
          if (signo == SIGHUP) {
            LOG_INFO(
                "event=webhook_sighup note=\"nothing to reload: restart to read a renewed "
                "certificate\"");
            return;
          }
          const char* name = signo == SIGTERM ? "SIGTERM" : "SIGINT";
          if (st->server) {
            LOG_INFO("event=webhook_draining signal=%s", name);
            st->draining = st->server.get();
            podrouter::webhook::WebhookServer::Close(std::move(st->server), /*drain=*/true);
            // The signal handles no longer keep the loop alive: it ends with the last connection.
            for (uv_signal_t* h : {&st->term, &st->intr, &st->hup}) {
              uv_unref(reinterpret_cast<uv_handle_t*>(h));
            }
          } else {
            LOG_WARN("event=webhook_stopping_now signal=%s", name);
            st->draining->Abort();
          }
        },
        signo);
  }
  LOG_INFO("event=started command=webhook version=%s pid=%d", podrouter::kVersion,
           static_cast<int>(getpid()));
  uv_run(&loop, UV_RUN_DEFAULT);  // until the drain is over
  for (uv_signal_t* h : {&sig.term, &sig.intr, &sig.hup}) {
    uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) LOG_ERROR("event=exit note=\"handles left open at exit\"");
  LOG_INFO("event=stopped command=webhook");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage(nullptr);
  std::string command = args.front();
  args.erase(args.begin());
  if (command == "version" || command == "--version") {
    if (!args.empty()) return Usage("version takes no arguments");
    printf("podrouter %s\n", podrouter::kVersion);
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    fputs(kUsage, stdout);
    return 0;
  }
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {  // `podrouter webhook --help` and the like
      fputs(kUsage, stdout);
      return 0;
    }
  }
  if (command == "inject") return Inject(args);
  if (command == "webhook") return Webhook(args);
  if (command != "run" && command != "validate") {
    return Usage(("unknown command '" + command + "'").c_str());
  }
  Flags flags;
  std::string problem;
  if (!ParseFlags(args, &flags, &problem)) return Usage(problem.c_str());
  if (command == "validate") {
    if (!Load(flags.config)) return 1;
    printf("%s: ok\n", flags.config.c_str());
    return 0;
  }
  return Run(flags);
}
