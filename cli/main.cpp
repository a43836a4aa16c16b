// ocelle-cli: Ocelle's engine from the command line (no Qt).
#include "command.h"

#include <cstdio>
#include <cstring>
#include <exception>

#ifndef OCELLE_VERSION
#error "OCELLE_VERSION must be defined by the build"
#endif

namespace {

void printHelp() {
    std::printf("ocelle-cli %s: run Google's Gemma 4 models on this machine.\n\n"
                "Usage: ocelle-cli COMMAND [OPTIONS]\n"
                "       ocelle-cli COMMAND --help\n\n"
                "Commands:\n",
                OCELLE_VERSION);
    for (const auto& c : ocelle::cli::commands()) std::printf("  %-16s %s\n", c.name, c.summary);
    std::printf("\nOptions:\n"
                "  --help           show this help\n"
                "  --version        print the version\n");
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        printHelp();
        return 2;
    }
    const char* first = argv[1];
    if (!std::strcmp(first, "--help") || !std::strcmp(first, "-h") || !std::strcmp(first, "help")) {
        printHelp();
        return 0;
    }
    if (!std::strcmp(first, "--version")) {
        std::printf("ocelle-cli %s\n", OCELLE_VERSION);
        return 0;
    }
    for (const auto& c : ocelle::cli::commands()) {
        if (std::strcmp(c.name, first) != 0) continue;
        std::vector<std::string> rest(argv + 2, argv + argc);
        for (const auto& a : rest) {
            if (a == "--help" || a == "-h") {
                std::printf("%s\n", c.usage);
                return 0;
            }
        }
        try {
            return c.run(rest);
        } catch (const ocelle::cli::UsageError& e) {
            std::fprintf(stderr, "ocelle-cli %s: %s\n\n%s\n", c.name, e.what(), c.usage);
            return 2;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ocelle-cli %s: %s\n", c.name, e.what());
            return 1;
        }
    }
    std::fprintf(stderr, "ocelle-cli: unknown command '%s' (see ocelle-cli --help)\n", first);
    return 2;
}
