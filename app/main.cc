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
#include "base/log.h"
#include "config/loader.h"
#include "inject/inject.h"
#include "metrics/metrics.h"

namespace {

constexpr char kUsage[] =
    "usage: podrouter run --config FILE [--log-level error|warn|info|debug]\n"
    "       podrouter validate --config FILE\n"
    "       podrouter inject [-f MANIFEST] [--image IMAGE] [--config-map NAME] [--native-sidecar]\n"
    "                        [--admin-port PORT]   (MANIFEST or stdin -> stdout)\n"
    "       podrouter version\n"
    "FILE may also come from $PODROUTER_CONFIG; the log level from $PODROUTER_LOG_LEVEL.\n";

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

int Inject(const std::vector<std::string>& args) {
  podrouter::config::InjectOptions options;
  options.image = std::string("podrouter:") + podrouter::kVersion;
  std::string file;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    std::string port;
    if (a == "--native-sidecar") {
      options.native_sidecar = true;
    } else if ((a == "-f" || a == "--file") && value(&file)) {
    } else if (a == "--image" && value(&options.image)) {
    } else if (a == "--config-map" && value(&options.config_map)) {
    } else if (a == "--admin-port" && value(&port)) {
      char* end = nullptr;
      long n = strtol(port.c_str(), &end, 10);
      if (port.empty() || *end || n < 1 || n > 65535) return Usage("--admin-port takes 1-65535");
      options.admin_port = static_cast<uint16_t>(n);
    } else {
      return Usage(("inject: unexpected argument '" + a + "'").c_str());
    }
  }
  std::string input;
  if (file.empty() || file == "-") {
    input.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      fprintf(stderr, "podrouter: inject: cannot read %s\n", file.c_str());
      return 1;
    }
    input.assign(std::istreambuf_iterator<char>(in), {});
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
  if (command == "inject") return Inject(args);
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
