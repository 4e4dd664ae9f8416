// tagflow_emulator: the platform emulator as a process, for manual runs and end-to-end tests.
//
// Usage: tagflow_emulator [--host ADDR] [--port N] [--tls] [--quiet]
//                         [--zalo-night-block] [--telegram-rate-limited N] [--telegram-retry-after S]
//                         [--webhook-secret S] [--fail-next N] [--fail-status CODE]
//
//   --host ADDR                 address to bind (default 127.0.0.1)
//   --port N                    port (default 8080; 0 picks a free one)
//   --tls                       serve HTTPS with a fresh self-signed certificate (DNS:localhost,
//                               IP:127.0.0.1), written to tagflow_emulator_cert.pem in the current
//                               directory so clients can trust it
//   --quiet                     do not print a line per request
//   --zalo-night-block          Zalo template sends answer -234 from 22:00 to 06:00 Vietnam time
//   --telegram-rate-limited N   the first N Telegram sendMessage calls answer 429
//   --telegram-retry-after S    retry_after of those answers (default 3)
//   --webhook-secret S          the webhook receiver checks X-Tagflow-Signature with S
//   --fail-next N               the first N requests answer --fail-status (default 503)
//
// It prints "listening on <base url>" once ready, then serves until SIGINT or SIGTERM.
#include "platform_emulator.hpp"

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) {
    stop_requested = 1;
}

[[noreturn]] void usage(const std::string& problem) {
    std::cerr << "tagflow_emulator: " << problem << "\n"
              << "usage: tagflow_emulator [--host ADDR] [--port N] [--tls] [--quiet] [--zalo-night-block]\n"
              << "       [--telegram-rate-limited N] [--telegram-retry-after S] [--webhook-secret S]\n"
              << "       [--fail-next N] [--fail-status CODE]\n";
    std::exit(2);
}

int number(const std::string& flag, const char* text) {
    try {
        std::size_t used = 0;
        const int n = std::stoi(text, &used);
        if (used != std::string(text).size() || n < 0) {
            throw std::invalid_argument(text);
        }
        return n;
    } catch (const std::exception&) {
        usage(flag + " needs a non-negative integer, not \"" + text + "\"");
    }
}

} // namespace

int main(int argc, char** argv) {
    tagflow::testing::emulator_options options;
    options.port = 8080;
    tagflow::testing::emulator_config config;
    bool quiet = false;
    bool tls = false;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                usage(flag + " needs a value");
            }
            return argv[++i];
        };
        if (flag == "--host") {
            options.host = value();
        } else if (flag == "--port") {
            const int port = number(flag, value());
            if (port > 65535) {
                usage("--port must be at most 65535");
            }
            options.port = static_cast<unsigned short>(port);
        } else if (flag == "--tls") {
            tls = true;
        } else if (flag == "--quiet") {
            quiet = true;
        } else if (flag == "--zalo-night-block") {
            config.zalo_night_block = true;
        } else if (flag == "--telegram-rate-limited") {
            config.telegram_rate_limited = number(flag, value());
        } else if (flag == "--telegram-retry-after") {
            config.telegram_retry_after = number(flag, value());
        } else if (flag == "--webhook-secret") {
            config.webhook_secret = value();
        } else if (flag == "--fail-next") {
            config.fail_next = number(flag, value());
        } else if (flag == "--fail-status") {
            config.fail_status = number(flag, value());
        } else if (flag == "--help" || flag == "-h") {
            usage("help");
        } else {
            usage("unknown flag " + flag);
        }
    }
    try {
        if (tls) {
            const auto cert = tagflow::testing::make_self_signed_certificate();
            options.tls_cert_pem = cert.cert_pem;
            options.tls_key_pem = cert.key_pem;
            std::ofstream("tagflow_emulator_cert.pem") << cert.cert_pem;
        }
        tagflow::testing::platform_emulator emulator(options);
        emulator.configure([&](tagflow::testing::emulator_config& c) { c = config; });
        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        std::cout << "listening on " << emulator.base_url() << std::endl;
        std::size_t printed = 0;
        while (stop_requested == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (!quiet) {
                const auto requests = emulator.requests();
                for (; printed < requests.size(); ++printed) {
                    std::cout << requests[printed].method << ' ' << requests[printed].target << ' '
                              << requests[printed].body << std::endl;
                }
            }
        }
        emulator.stop();
    } catch (const std::exception& e) {
        std::cerr << "tagflow_emulator: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
